"""AliExpress connection bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class AuthorizeUrlOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "authorize_url": "https://api-sg.aliexpress.com/oauth/authorize?response_type=code"
                "&force_auth=true&client_id=500100&redirect_uri=https%3A%2F%2Foja.example%2F"
                "integrations%2Faliexpress%2Fcallback&state=…",
                "expires_in": 600,
            }
        }
    )

    authorize_url: str
    expires_in: int
    """Seconds the signed ``state`` in the URL stays valid."""


class ConnectionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "status": "connected",
                "account_id": "2200000001",
                "account_name": "ds_buyer_0001",
                "access_expires_at": "2026-12-07T10:00:00Z",
                "refresh_expires_at": "2026-12-08T10:00:00Z",
            }
        }
    )

    status: Literal["connected", "expired", "not_connected"]
    """``expired``: the access token has lapsed and cannot be refreshed — reconnect."""
    account_id: str | None = None
    account_name: str | None = None
    access_expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None
