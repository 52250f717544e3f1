"""Realtime API bodies."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TicketOut(BaseModel):
    ticket: str = Field(description="Present as `/ws?ticket=…` within `expires_in` seconds; once.")
    expires_in: int = Field(description="Seconds the ticket stays valid.", examples=[60])
