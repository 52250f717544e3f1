"""The stock ledger: every change of a variant's stock is one ``stock_movement`` row.

``stock_before + delta == stock_after`` holds for every row; the variant's ``stock`` column is the running
balance, changed only by a conditional UPDATE that cannot take it below zero.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.clock import utcnow
from oja.core.db import Base, IdMixin
from oja.marketplace.tenancy import VendorOwned


class StockMovement(IdMixin, VendorOwned, Base):
    __tablename__ = "stock_movement"
    __table_args__ = (
        CheckConstraint("stock_before + delta = stock_after", name="balanced"),
        CheckConstraint("stock_after >= 0", name="after_not_negative"),
        Index("ix_stock_movement_variant_id_created_at", "variant_id", "created_at"),
    )

    variant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("product_variant.id", ondelete="CASCADE")
    )
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(String(200))
    stock_before: Mapped[int] = mapped_column()
    stock_after: Mapped[int] = mapped_column()
    delta: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
