"""What the notification routes read and answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from oja.notifications.catalogue import Category, Channel


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event: str
    category: Category
    title: str
    body: str
    data: dict[str, Any] = Field(description="The event's own data (ids, amounts in minor units).")
    read_at: datetime | None
    created_at: datetime


class UnreadCount(BaseModel):
    unread: int


class MarkedRead(BaseModel):
    marked: int = Field(description="Notifications that were unread and now are read.")


class Preference(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Category
    channel: Literal["email", "sms"] = Field(
        description="In-app notifications are always kept; these choose what also travels."
    )
    enabled: bool


class AlwaysSent(BaseModel):
    event: str
    category: Category


class PreferencesOut(BaseModel):
    preferences: list[Preference] = Field(
        description="Every category × channel, chosen or default."
    )
    always_sent: list[AlwaysSent] = Field(
        description="Security and transactional events sent whatever the opt-outs say."
    )


class PreferencesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    preferences: list[Preference] = Field(max_length=64)


class TemplateOut(BaseModel):
    event: str
    channel: Channel
    locale: str
    subject: str | None = Field(description="Email subject or in-app title; null for SMS.")
    body: str
    customised: bool = Field(description="An admin's override, not the default in code.")
    variables: list[str] = Field(description="What the template may use.")
    updated_at: datetime | None


class TemplateUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=5000)
    subject: str | None = Field(default=None, max_length=300)
    locale: str = Field(default="en", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")


class CallbackAck(BaseModel):
    recorded: int = Field(description="Delivery statuses changed by this callback.")
