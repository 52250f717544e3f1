"""Discount redemptions: one row per discount and order group, so a usage limit per customer is
counted from rows and an expired reservation gives its uses back exactly once."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.clock import utcnow
from oja.core.db import Base, IdMixin
from oja.marketplace.tenancy import VendorOwned


class DiscountRedemption(IdMixin, VendorOwned, Base):
    __tablename__ = "discount_redemption"
    __table_args__ = (
        UniqueConstraint("discount_id", "group_id"),
        Index("ix_discount_redemption_discount_id_buyer_id", "discount_id", "buyer_id"),
    )

    discount_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("discount.id", ondelete="CASCADE"))
    group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("order_group.id", ondelete="CASCADE"), index=True
    )
    buyer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
