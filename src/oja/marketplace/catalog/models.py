"""Categories, products, their variants and the record of every price change.

Categories form a tree of any depth stored as a *materialised path*: ``path`` is the chain of ids
from the root, ``/root-id/child-id/``. "Products in a category and its descendants" is then one
indexed prefix match (``path LIKE '/root-id/%'``) instead of a recursive CTE per request, and a
breadcrumb is the ids in one row's path, read in one ``IN`` query. Ids are hex UUIDs with hyphens,
so a path never contains LIKE's wildcards and needs no escaping. Moving a subtree rewrites the
paths under it in one UPDATE; moves are rare, reads are not. The PostgreSQL index uses
``text_pattern_ops`` so the prefix LIKE can use it whatever the database collation.

Money is integer minor units with an ISO 4217 currency. Stock never goes below zero: a CHECK
constraint backs the conditional UPDATE in the inventory repository.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.clock import utcnow
from oja.core.db import Base, IdMixin, TimestampMixin, status_column
from oja.marketplace.tenancy import VendorOwned


class Category(IdMixin, TimestampMixin, Base):
    __tablename__ = "category"
    __table_args__ = (
        Index("ix_category_path", "path", postgresql_ops={"path": "text_pattern_ops"}),
    )

    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), index=True
    )
    path: Mapped[str] = mapped_column(String(2000))
    """``/root-id/…/own-id/``: this category's ancestors and itself."""


class ProductStatus(enum.StrEnum):
    draft = "draft"
    active = "active"
    archived = "archived"


_LISTED = text("listed")


class Product(IdMixin, TimestampMixin, VendorOwned, Base):
    """A store's product. The ``listed`` … ``category_path`` columns are what the public listing
    filters and sorts on, copied here so that ``GET /products`` reads one table through indexes
    that match each sort (newest, price up, price down; partial on ``listed``) instead of joining
    the store, the category and every variant of every candidate. Database triggers (migration
    ``c18l00000001``, on PostgreSQL and SQLite) keep them equal to their sources in the very
    statement that changes a source — a product's status or category, a store's status, a
    category's path, a variant's price, stock or deletion, whichever code path writes it
    (checkout's conditional stock UPDATE and the bulk import included). Nothing in Python writes
    them. Discounts are not copied: the listing filters and sorts on variant prices as stored.
    """

    __tablename__ = "product"
    __table_args__ = (
        Index("ix_product_status_created_at", "status", "created_at"),
        Index("ix_product_vendor_id_created_at", "vendor_id", "created_at"),
        # The listing's indexes, one per sort, all partial on ``listed``; the stock count rides
        # along (INCLUDE) so "in stock" and the totals can be counted from the index alone, and
        # ``max_price`` on the price index so a price range is too (issue 18).
        Index(
            "ix_product_listed_created_at",
            "created_at",
            "id",
            postgresql_where=_LISTED,
            sqlite_where=_LISTED,
            postgresql_include=["stocked_variants"],
        ),
        Index(
            "ix_product_listed_min_price",
            "min_price",
            "id",
            postgresql_where=_LISTED,
            sqlite_where=_LISTED,
            postgresql_include=["stocked_variants", "max_price"],
        ),
        Index(
            "ix_product_listed_vendor_id_created_at",
            "vendor_id",
            "created_at",
            postgresql_where=_LISTED,
            sqlite_where=_LISTED,
        ),
        Index(
            "ix_product_listed_category_path",
            "category_path",
            postgresql_where=_LISTED,
            sqlite_where=_LISTED,
            postgresql_ops={"category_path": "text_pattern_ops"},
            # the listing's counts filter on these: index-only scans (c18t00000001)
            postgresql_include=["stocked_variants", "min_price", "max_price", "id"],
        ),
        # The unfiltered listing's total: ``count(*) WHERE listed`` from the smallest index that
        # answers it (one value, deduplicated: 11 pages where the narrowest sort index is 98 on
        # 10,000 products; c25s00000001).
        Index("ix_product_listed", "listed", postgresql_where=_LISTED, sqlite_where=_LISTED),
    )

    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), index=True
    )
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = status_column(ProductStatus, default=ProductStatus.draft)
    listed: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Active, of an approved store: the public listing shows it (kept by triggers, see above)."""
    min_price: Mapped[int | None] = mapped_column(BigInteger)
    """The cheapest live variant's price (the price sorts' key); None without live variants."""
    max_price: Mapped[int | None] = mapped_column(BigInteger)
    """The dearest live variant's price: with ``min_price``, the price-range filter's prefilter."""
    stocked_variants: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    """How many live variants have stock: a count, not a flag, so that concurrent stock changes
    add and subtract without reading each other's rows (no write skew)."""
    category_path: Mapped[str | None] = mapped_column(String(2000))
    """The category's materialised path (see :class:`Category`), followed through moves."""


class ProductVariant(IdMixin, TimestampMixin, VendorOwned, Base):
    """One buyable thing: a SKU with its options, price and stock.

    Deleting a variant sets ``deleted_at`` and keeps the row: its price history (and, later, the
    order lines that name it) still point at a real variant. A deleted variant is in no answer and
    no longer holds its SKU — the store may reuse it — so SKUs are unique among the live variants
    only (a partial unique index, on SQLite and PostgreSQL alike).
    """

    __tablename__ = "product_variant"
    __table_args__ = (
        Index(
            "uq_product_variant_vendor_id_sku_live",
            "vendor_id",
            "sku",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("low_stock_threshold >= 0", name="threshold_not_negative"),
        Index("ix_product_variant_price", "price"),
        # The listing's price range asks which products have a live variant within the bounds:
        # the live prices with their product, read from the index alone (issue 18).
        Index(
            "ix_product_variant_live_price",
            "price",
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
            postgresql_include=["product_id"],
        ),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("product.id", ondelete="CASCADE"), index=True
    )
    sku: Mapped[str] = mapped_column(String(64))
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    compare_at_price: Mapped[int | None] = mapped_column(BigInteger)
    stock: Mapped[int] = mapped_column(default=0)
    low_stock_threshold: Mapped[int] = mapped_column(default=5)
    weight_grams: Mapped[int | None] = mapped_column()
    deleted_at: Mapped[datetime | None] = mapped_column()
    """Set when the store deletes the variant; the row stays for history (see above)."""


class PriceChange(IdMixin, VendorOwned, Base):
    """One change of a variant's price (the first row, with no old price, is its creation)."""

    __tablename__ = "price_change"
    __table_args__ = (Index("ix_price_change_variant_id_created_at", "variant_id", "created_at"),)

    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"))
    variant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("product_variant.id", ondelete="CASCADE")
    )
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    old_price: Mapped[int | None] = mapped_column(BigInteger)
    new_price: Mapped[int] = mapped_column(BigInteger)
    old_compare_at_price: Mapped[int | None] = mapped_column(BigInteger)
    new_compare_at_price: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProductImage(IdMixin, TimestampMixin, VendorOwned, Base):
    """One picture of a product: a file of the files pipeline, which renders its listing, detail
    and thumbnail sizes. ``position`` orders a product's images (ties by age); ``source_url`` is
    set when the image was fetched from a URL (a bulk import), and a product fetches one URL once.
    """

    __tablename__ = "product_image"
    __table_args__ = (
        UniqueConstraint("product_id", "source_url"),
        # The public reads' images (``images_json``) from the index alone: the id, the file and
        # the alt text ride along (c36s00000001, issue 25).
        Index(
            "ix_product_image_product_id_position",
            "product_id",
            "position",
            postgresql_include=["id", "file_id", "alt_text"],
        ),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"))
    file_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("file.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    alt_text: Mapped[str | None] = mapped_column(String(500))
    source_url: Mapped[str | None] = mapped_column(String(2048))
