"""Request and response bodies of the store routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, model_validator

from oja.marketplace.reports.config import known_zone
from oja.marketplace.slugs import Slug
from oja.marketplace.vendors.models import StaffRole, VendorStatus

_EXAMPLE_ID = "01938f6e-7b1a-7c3e-9a55-3f1f0c2d4e5f"


class VendorCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Mama Put Foods",
                    "description": "Home-cooked jollof, delivered in Yaba.",
                    "contact_email": "hello@mamaput.ng",
                    "phone": "+2348012345678",
                    "address": "12 Herbert Macaulay Way, Yaba, Lagos",
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=120)
    slug: Slug | None = Field(default=None, description="Derived from the name when absent.")
    description: str | None = Field(default=None, max_length=5000)
    logo: uuid.UUID | None = Field(default=None, description="The id of a file you uploaded.")
    contact_email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=32)
    address: str | None = Field(default=None, max_length=500)


class VendorUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"description": "Now open on Sundays."}]},
    )

    name: str | None = Field(default=None, min_length=1, max_length=120)
    slug: Slug | None = None
    description: str | None = Field(default=None, max_length=5000)
    logo: uuid.UUID | None = None
    contact_email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=32)
    address: str | None = Field(default=None, max_length=500)
    time_zone: Annotated[str, AfterValidator(known_zone)] | None = Field(
        default=None,
        max_length=64,
        description="IANA time zone of the store's sales reports and daily rollups; null returns "
        "to the operator's default (OJA_REPORTS_TIME_ZONE).",
        examples=["America/New_York"],
    )


class VendorOut(BaseModel):
    """A store as its members and admins see it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _EXAMPLE_ID,
                    "name": "Mama Put Foods",
                    "slug": "mama-put-foods",
                    "description": None,
                    "logo": None,
                    "contact_email": "hello@mamaput.ng",
                    "phone": None,
                    "address": None,
                    "status": "pending",
                    "status_reason": None,
                    "time_zone": "Africa/Lagos",
                    "role": "owner",
                    "created_at": "2026-12-06T08:00:00Z",
                    "updated_at": "2026-12-06T08:00:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    name: str
    slug: str
    description: str | None
    logo: uuid.UUID | None
    contact_email: str | None
    phone: str | None
    address: str | None
    status: VendorStatus
    status_reason: str | None
    time_zone: str = Field(
        description="IANA time zone of the store's sales reports and daily rollups (the "
        "operator's default, OJA_REPORTS_TIME_ZONE, until the store sets one)."
    )
    role: StaffRole | None = Field(default=None, description="The caller's role in this store.")
    created_at: datetime
    updated_at: datetime


class PublicVendorOut(BaseModel):
    """An approved store as anyone sees it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _EXAMPLE_ID,
                    "name": "Mama Put Foods",
                    "slug": "mama-put-foods",
                    "description": "Home-cooked jollof.",
                    "logo": None,
                    "contact_email": "hello@mamaput.ng",
                    "phone": None,
                    "address": None,
                    "rating": None,
                    "product_count": 12,
                    "created_at": "2026-12-06T08:00:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    name: str
    slug: str
    description: str | None
    logo: uuid.UUID | None
    contact_email: str | None
    phone: str | None
    address: str | None
    rating: float | None = Field(description="Average review rating; null until reviews exist.")
    product_count: int = Field(description="Active products.")
    created_at: datetime


class VendorDecision(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reason": "Business registration could not be verified."}]
        },
    )

    reason: str | None = Field(
        default=None, min_length=1, max_length=500, description="Required to reject or suspend."
    )


class StaffAdd(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"email": "ade@example.com", "role": "manager"}]},
    )

    user_id: uuid.UUID | None = None
    email: EmailStr | None = None
    role: StaffRole = StaffRole.staff

    @model_validator(mode="after")
    def one_identifier(self) -> Self:
        if (self.user_id is None) == (self.email is None):
            raise ValueError("give exactly one of user_id or email")
        return self


class StaffOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": _EXAMPLE_ID,
                    "email": "ade@example.com",
                    "role": "manager",
                    "created_at": "2026-12-06T08:00:00Z",
                }
            ]
        }
    )

    user_id: uuid.UUID
    email: str | None
    role: StaffRole
    created_at: datetime


class FollowOut(BaseModel):
    """Whether you follow the store now, and how many do."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"vendor_id": _EXAMPLE_ID, "following": True, "followers": 128}]
        }
    )

    vendor_id: uuid.UUID
    following: bool
    followers: int
