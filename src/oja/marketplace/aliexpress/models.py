"""One AliExpress connection per store (the account and its tokens, sealed at rest), the
provenance of imported products, and the category maps.

The tokens are sealed with AES-256-GCM under a key derived from the app secret (the same sealing
as MFA secrets, :func:`oja.identity.digests.seal`): a database dump alone cannot call AliExpress.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.db import Base, IdMixin, TimestampMixin
from oja.marketplace.tenancy import VendorOwned


class AliExpressConnection(IdMixin, TimestampMixin, VendorOwned, Base):
    __tablename__ = "aliexpress_connection"
    __table_args__ = (UniqueConstraint("vendor_id"),)

    account_id: Mapped[str] = mapped_column(String(64))
    account_name: Mapped[str | None] = mapped_column(String(255))
    access_token_sealed: Mapped[str] = mapped_column(Text)
    refresh_token_sealed: Mapped[str] = mapped_column(Text)
    access_expires_at: Mapped[datetime]
    refresh_expires_at: Mapped[datetime | None]


class ProductSource(IdMixin, TimestampMixin, VendorOwned, Base):
    """Where an imported product comes from: one row per (store, source, source product id), the
    key that makes a re-import update instead of duplicate. ``price_rule`` is the rule the import
    applied, which the sync applies again to the source's new costs."""

    __tablename__ = "product_source"
    __table_args__ = (
        UniqueConstraint("vendor_id", "source", "source_id"),
        UniqueConstraint("product_id"),
        Index("ix_product_source_last_synced_at", "last_synced_at"),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(String(64))
    source_url: Mapped[str] = mapped_column(String(2048))
    source_category_id: Mapped[str | None] = mapped_column(String(64))
    source_price: Mapped[int | None] = mapped_column(BigInteger)
    """The cheapest imported variant's cost at the source, minor units of ``source_currency``."""
    source_currency: Mapped[str] = mapped_column(String(3))
    source_stock: Mapped[int] = mapped_column(default=0)
    """The imported variants' stock at the source, summed."""
    price_rule: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sku_ids: Mapped[list[Any] | None] = mapped_column()
    """The source SKUs the vendor chose to import (None: all of them)."""
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    unavailable_reason: Mapped[str | None] = mapped_column(String(200))
    last_synced_at: Mapped[datetime]


class ProductSourceVariant(IdMixin, VendorOwned, Base):
    """A source SKU and the variant it became: one-to-one, both ways."""

    __tablename__ = "product_source_variant"
    __table_args__ = (
        UniqueConstraint("vendor_id", "source", "source_sku_id"),
        UniqueConstraint("variant_id"),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("product.id", ondelete="CASCADE"), index=True
    )
    variant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("product_variant.id", ondelete="CASCADE")
    )
    source: Mapped[str] = mapped_column(String(32))
    source_sku_id: Mapped[str] = mapped_column(String(64))
    sku_attr: Mapped[str] = mapped_column(String(500))
    source_price: Mapped[int] = mapped_column(BigInteger)
    source_currency: Mapped[str] = mapped_column(String(3))
    source_stock: Mapped[int] = mapped_column(default=0)


class AliExpressCategoryMap(IdMixin, TimestampMixin, VendorOwned, Base):
    """A store's own mapping of an AliExpress category to a local one (wins over the default)."""

    __tablename__ = "aliexpress_category_map"
    __table_args__ = (UniqueConstraint("vendor_id", "source_category_id"),)

    source_category_id: Mapped[str] = mapped_column(String(32))
    category_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("category.id", ondelete="CASCADE"))


class AliExpressDefaultCategoryMap(IdMixin, TimestampMixin, Base):
    """The operator's default mapping, used where a store has none of its own."""

    __tablename__ = "aliexpress_default_category_map"

    source_category_id: Mapped[str] = mapped_column(String(32), unique=True)
    category_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("category.id", ondelete="CASCADE"))
