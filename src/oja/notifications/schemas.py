"""What the notification routes read and answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from oja.notifications.catalogue import Category, Channel
from oja.notifications.quiet_hours import zone


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


class QuietHours(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["22:00"])
    end: str = Field(
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        examples=["07:00"],
        description="Before ``start``: the quiet hours span midnight.",
    )
    time_zone: str = Field(
        max_length=64, examples=["Africa/Lagos"], description="IANA time zone name."
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet hours need a start different from their end")
        return self


class PreferencesOut(BaseModel):
    preferences: list[Preference] = Field(
        description="Every category × channel, chosen or default."
    )
    quiet_hours: QuietHours | None = Field(
        description="Email and SMS fanned out in these hours wait until they end (not dropped)."
    )
    promotions_digest: bool = Field(
        description="Promotion emails come as one daily digest instead of one by one."
    )
    always_sent: list[AlwaysSent] = Field(
        description="Security and transactional events sent whatever the opt-outs say: they "
        "ignore opt-outs, quiet hours, the digest and rate limits."
    )


class PreferencesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    preferences: list[Preference] = Field(default_factory=list, max_length=64)
    quiet_hours: QuietHours | None = Field(
        default=None, description="Absent: unchanged; null: no quiet hours."
    )
    promotions_digest: bool | None = Field(default=None, description="Absent: unchanged.")


class Unsubscribed(BaseModel):
    category: Category
    channel: Literal["email"]
    enabled: Literal[False]


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
