"""The search index: one row per searchable product (active, of an approved store), its attribute
pairs for filters and facets, and the vocabulary of indexed words for typo expansion.

``words`` is the product's text already split into lowercase words (title, description, category
and store names, attribute values); the engines index it (PostgreSQL: the generated column
``words_tsv = to_tsvector('simple', words)`` with a GIN index; SQLite: the FTS5 table
``search_document_fts`` kept equal by triggers). Both are created by the migration, not declared here (env.py leaves them out of
``alembic check``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.db import Base


class SearchDocument(Base):
    __tablename__ = "search_document"
    __table_args__ = (
        Index("ix_search_document_price", "price"),
        Index("ix_search_document_created_at", "created_at"),
        # A search by category reads its matched rows from this index alone (what the sorts and
        # the facets need, not ``sales``: its increments stay HOT updates; c25s00000001).
        Index(
            "ix_search_document_category_id",
            "category_id",
            postgresql_include=["vendor_id", "price", "rating", "created_at", "product_id"],
        ),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("product.id", ondelete="CASCADE"), primary_key=True
    )
    vendor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vendor.id", ondelete="CASCADE"), index=True
    )
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("category.id", ondelete="SET NULL")
    )
    title: Mapped[str] = mapped_column(String(200))
    words: Mapped[str] = mapped_column(Text)
    price: Mapped[int] = mapped_column(BigInteger)
    """The lowest effective price (after discounts) over the product's variants, minor units."""
    currency: Mapped[str] = mapped_column(String(3))
    rating: Mapped[float | None] = mapped_column(Float)
    """Average rating once reviews exist; NULL until then (``rating_gte`` never matches NULL)."""
    sales: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column()
    """The product's creation time (``newest``)."""


class SearchAttribute(Base):
    __tablename__ = "search_attribute"
    __table_args__ = (Index("ix_search_attribute_name_value", "name", "value"),)

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("search_document.product_id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)


class SearchTerm(Base):
    """Every word ever indexed (never pruned but by a rebuild; a stale word only widens a typo
    expansion to a word that matches nothing)."""

    __tablename__ = "search_term"

    term: Mapped[str] = mapped_column(String(100), primary_key=True)
