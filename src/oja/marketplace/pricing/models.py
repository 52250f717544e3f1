"""Discounts a store offers: a percentage or a fixed amount off, on a product, a category (its
descendants included) or the whole store, within a time window, optionally behind a code."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.db import Base, IdMixin, TimestampMixin, one_of
from oja.marketplace.tenancy import VendorOwned


class DiscountType(enum.StrEnum):
    percentage = "percentage"
    fixed = "fixed"


class DiscountScope(enum.StrEnum):
    product = "product"
    category = "category"
    store = "store"


class Discount(IdMixin, TimestampMixin, VendorOwned, Base):
    __tablename__ = "discount"
    __table_args__ = (
        UniqueConstraint("vendor_id", "code"),
        CheckConstraint("value > 0", name="value_positive"),
        CheckConstraint("type <> 'percentage' OR value <= 100", name="percentage_at_most_100"),
        CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="window_valid"),
        CheckConstraint("scope = 'store' OR target_id IS NOT NULL", name="target_given"),
        CheckConstraint("used_count >= 0", name="used_not_negative"),
        Index("ix_discount_vendor_id_starts_at", "vendor_id", "starts_at"),
    )

    type: Mapped[str] = mapped_column(one_of(DiscountType, name="type_valid", length=16))
    value: Mapped[int] = mapped_column(BigInteger)
    """Whole percent (1–100) for ``percentage``; minor units of ``currency`` for ``fixed``."""
    currency: Mapped[str] = mapped_column(String(3))
    scope: Mapped[str] = mapped_column(one_of(DiscountScope, name="scope_valid", length=16))
    target_id: Mapped[uuid.UUID | None] = mapped_column()
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime | None] = mapped_column()
    code: Mapped[str | None] = mapped_column(String(32))
    usage_limit: Mapped[int | None] = mapped_column()
    per_customer_limit: Mapped[int | None] = mapped_column()
    used_count: Mapped[int] = mapped_column(default=0)
    stackable: Mapped[bool] = mapped_column(Boolean, default=False)
