"""Cart lines. Buyer-owned, not vendor-owned: a line is found by its buyer, never by a store.

A line keeps the unit price (after the discounts then running) and currency the buyer saw when
adding it, so the cart can say which prices changed since. Adding a variant already in the cart
adds to its quantity (one line per buyer and variant).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.clock import utcnow
from oja.core.db import Base, IdMixin


class CartItem(IdMixin, Base):
    __tablename__ = "cart_item"
    __table_args__ = (
        UniqueConstraint("buyer_id", "variant_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("price_seen >= 0", name="price_seen_not_negative"),
    )

    buyer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    variant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("product_variant.id", ondelete="CASCADE"), index=True
    )
    quantity: Mapped[int]
    price_seen: Mapped[int] = mapped_column(BigInteger)
    """The unit price the buyer was shown when adding (discounts included), minor units."""
    currency: Mapped[str] = mapped_column(String(3))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
