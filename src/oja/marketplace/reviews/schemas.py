"""Review bodies and answers."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from oja.core.pagination import Page
from oja.marketplace.reviews.models import ReviewStatus


class ReviewSort(enum.StrEnum):
    newest = "newest"
    oldest = "oldest"
    highest = "highest"
    lowest = "lowest"
    most_helpful = "most_helpful"


class QueueStatus(enum.StrEnum):
    flagged = "flagged"
    pending = "pending"


class ReviewCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"rating": 5, "title": "Very tasty", "body": "Well packed and still warm."}
            ]
        },
    )

    rating: int = Field(ge=1, le=5)
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=5000)
    photos: list[uuid.UUID] = Field(default_factory=list, max_length=10)
    order_line_id: uuid.UUID | None = None
    """Product reviews: the delivered line reviewed (default: the most recent unreviewed one)."""
    store_order_id: uuid.UUID | None = None
    """Store reviews: the delivered store order reviewed (default: the most recent unreviewed)."""


class ReviewUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"rating": 4, "body": "Good, a little salty."}]},
    )

    rating: int | None = Field(default=None, ge=1, le=5)
    title: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, min_length=1, max_length=5000)
    photos: list[uuid.UUID] | None = Field(default=None, max_length=10)


class ReplyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"body": "Thank you for your order!"}]}
    )
    body: str = Field(min_length=1, max_length=5000)


class FlagIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "Not about the product."}]}
    )
    reason: str = Field(min_length=1, max_length=500)


class DecisionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "Checked: an honest review."}]}
    )
    reason: str = Field(min_length=1, max_length=500)


class ReviewOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "01938f6e-7b1a-7c3e-9a55-3f1f0c2d4e60",
                    "subject": "product",
                    "subject_id": "01938f6e-7b1a-7c3e-9a55-3f1f0c2d4e61",
                    "vendor_id": "01938f6e-7b1a-7c3e-9a55-3f1f0c2d4e62",
                    "author_id": "01938f6e-7b1a-7c3e-9a55-3f1f0c2d4e63",
                    "rating": 5,
                    "title": "Very tasty",
                    "body": "Well packed and still warm.",
                    "photos": [],
                    "verified": True,
                    "status": "published",
                    "helpful_count": 3,
                    "reply": "Thank you!",
                    "replied_at": "2026-12-06T10:00:00Z",
                    "created_at": "2026-12-05T18:00:00Z",
                    "updated_at": "2026-12-05T18:00:00Z",
                }
            ]
        },
    )

    id: uuid.UUID
    subject: str
    subject_id: uuid.UUID
    vendor_id: uuid.UUID
    author_id: uuid.UUID
    rating: int
    title: str
    body: str
    photos: list[uuid.UUID]
    verified: bool
    status: ReviewStatus
    helpful_count: int
    reply: str | None
    replied_at: datetime | None
    created_at: datetime
    updated_at: datetime


class AdminReviewOut(ReviewOut):
    screening: str | None
    open_flags: int


class RatingSummary(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subject_id": "01938f6e-7b1a-7c3e-9a55-3f1f0c2d4e61",
                    "average": 4.33,
                    "count": 3,
                    "histogram": {"1": 0, "2": 0, "3": 1, "4": 0, "5": 2},
                }
            ]
        }
    )
    subject_id: uuid.UUID
    average: float | None = Field(
        description="Mean of published ratings, 2 decimals; null if none."
    )
    count: int
    histogram: dict[str, int] = Field(description='Published reviews per rating, "1" to "5".')


class ReviewPage(Page[ReviewOut]):
    summary: RatingSummary
