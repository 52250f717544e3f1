"""AliExpress queries: connections, imported products' provenance and the category maps. Every
statement on a store's rows filters on its ``vendor_id``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.marketplace.aliexpress.models import (
    AliExpressCategoryMap,
    AliExpressConnection,
    AliExpressDefaultCategoryMap,
    ProductSource,
    ProductSourceVariant,
)
from oja.marketplace.catalog.models import Category, Product, ProductVariant
from oja.marketplace.vendors.models import VendorMember

# Connections


async def for_vendor(db: AsyncSession, vendor_id: uuid.UUID) -> AliExpressConnection | None:
    return await db.scalar(
        select(AliExpressConnection).where(AliExpressConnection.vendor_id == vendor_id)
    )


async def connections_to_refresh(
    db: AsyncSession, *, before: datetime, now: datetime, limit: int
) -> Sequence[AliExpressConnection]:
    """Connections (every store's: the refresh job's own sweep) whose access token lapses
    before ``before`` and whose refresh token still works."""
    query = (
        select(AliExpressConnection)
        .where(
            AliExpressConnection.access_expires_at < before,
            AliExpressConnection.refresh_expires_at > now,
        )
        .order_by(AliExpressConnection.access_expires_at)
        .limit(limit)
    )
    return (await db.scalars(query)).all()


# Provenance


async def sources_by_id(
    db: AsyncSession, vendor_id: uuid.UUID, source: str, source_ids: Sequence[str]
) -> dict[str, ProductSource]:
    if not source_ids:
        return {}
    query = select(ProductSource).where(
        ProductSource.vendor_id == vendor_id,
        ProductSource.source == source,
        ProductSource.source_id.in_(source_ids),
    )
    return {s.source_id: s for s in (await db.scalars(query)).all()}


async def source_variants(
    db: AsyncSession, vendor_id: uuid.UUID, source: str, sku_ids: Sequence[str]
) -> dict[str, ProductSourceVariant]:
    if not sku_ids:
        return {}
    query = select(ProductSourceVariant).where(
        ProductSourceVariant.vendor_id == vendor_id,
        ProductSourceVariant.source == source,
        ProductSourceVariant.source_sku_id.in_(sku_ids),
    )
    return {v.source_sku_id: v for v in (await db.scalars(query)).all()}


async def variant_ids_by_sku(
    db: AsyncSession, vendor_id: uuid.UUID, skus: Sequence[str]
) -> dict[str, tuple[uuid.UUID, uuid.UUID]]:
    """SKU → (variant id, product id) of this store's live variants."""
    if not skus:
        return {}
    query = select(ProductVariant.sku, ProductVariant.id, ProductVariant.product_id).where(
        ProductVariant.vendor_id == vendor_id,
        ProductVariant.sku.in_(skus),
        ProductVariant.deleted_at.is_(None),
    )
    return {row[0]: (row[1], row[2]) for row in (await db.execute(query)).all()}


async def insert_rows(db: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        await db.execute(insert(model.__table__), rows)


async def due_for_sync(db: AsyncSession, source: str, *, limit: int) -> Sequence[ProductSource]:
    """The least recently synced imported products of every store (the sync job's own sweep)."""
    query = (
        select(ProductSource)
        .where(ProductSource.source == source)
        .order_by(ProductSource.last_synced_at, ProductSource.id)
        .limit(limit)
    )
    return (await db.scalars(query)).all()


async def product_titles(
    db: AsyncSession, vendor_id: uuid.UUID, product_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    if not product_ids:
        return {}
    query = select(Product.id, Product.title).where(
        Product.vendor_id == vendor_id, Product.id.in_(product_ids)
    )
    return dict((await db.execute(query)).all())


async def store_staff(db: AsyncSession, vendor_id: uuid.UUID) -> list[uuid.UUID]:
    query = select(VendorMember.user_id).where(VendorMember.vendor_id == vendor_id)
    return list((await db.scalars(query)).all())


# Category maps


async def vendor_map(db: AsyncSession, vendor_id: uuid.UUID) -> dict[str, uuid.UUID]:
    query = (
        select(AliExpressCategoryMap.source_category_id, AliExpressCategoryMap.category_id)
        .where(AliExpressCategoryMap.vendor_id == vendor_id)
        .order_by(AliExpressCategoryMap.source_category_id)
    )
    return dict((await db.execute(query)).all())


async def default_map(db: AsyncSession) -> dict[str, uuid.UUID]:
    query = select(
        AliExpressDefaultCategoryMap.source_category_id, AliExpressDefaultCategoryMap.category_id
    ).order_by(AliExpressDefaultCategoryMap.source_category_id)
    return dict((await db.execute(query)).all())


async def replace_vendor_map(
    db: AsyncSession, vendor_id: uuid.UUID, rows: list[dict[str, Any]]
) -> None:
    await db.execute(
        delete(AliExpressCategoryMap).where(AliExpressCategoryMap.vendor_id == vendor_id)
    )
    await insert_rows(db, AliExpressCategoryMap, rows)


async def replace_default_map(db: AsyncSession, rows: list[dict[str, Any]]) -> None:
    await db.execute(delete(AliExpressDefaultCategoryMap))
    await insert_rows(db, AliExpressDefaultCategoryMap, rows)


async def existing_categories(db: AsyncSession, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    if not ids:
        return set()
    return set((await db.scalars(select(Category.id).where(Category.id.in_(ids)))).all())


async def category_by_slug(db: AsyncSession, slug: str) -> uuid.UUID | None:
    return await db.scalar(select(Category.id).where(func.lower(Category.slug) == slug.lower()))


async def unmapped(
    db: AsyncSession, vendor_id: uuid.UUID, mapped: Sequence[str]
) -> list[tuple[str, int]]:
    """This store's imported products' source categories outside ``mapped``, with counts."""
    query = (
        select(ProductSource.source_category_id, func.count())
        .where(
            ProductSource.vendor_id == vendor_id,
            ProductSource.source_category_id.is_not(None),
            ProductSource.source_category_id.not_in(mapped),
        )
        .group_by(ProductSource.source_category_id)
        .order_by(ProductSource.source_category_id)
    )
    return [(str(row[0]), int(row[1])) for row in (await db.execute(query)).all()]


async def mapped_skus(
    db: AsyncSession, vendor_id: uuid.UUID, product_ids: Sequence[uuid.UUID]
) -> list[tuple[uuid.UUID, str]]:
    """(product id, source SKU id) of these imported products' variants."""
    if not product_ids:
        return []
    query = (
        select(ProductSourceVariant.product_id, ProductSourceVariant.source_sku_id)
        .where(
            ProductSourceVariant.vendor_id == vendor_id,
            ProductSourceVariant.product_id.in_(product_ids),
        )
        .order_by(ProductSourceVariant.source_sku_id)
    )
    return [(row[0], str(row[1])) for row in (await db.execute(query)).all()]


async def mark_sources(db: AsyncSession, vendor_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
    """Set ``available``, ``unavailable_reason`` and ``last_synced_at`` of sources by id."""
    if not rows:
        return
    table: Any = ProductSource.__table__
    statement = update(table).where(
        table.c.id == bindparam("b_id"), table.c.vendor_id == bindparam("b_vendor_id")
    )
    await db.execute(
        statement,
        [
            {
                "b_id": r["id"],
                "b_vendor_id": vendor_id,
                "available": r["available"],
                "unavailable_reason": r["unavailable_reason"],
                "last_synced_at": r["last_synced_at"],
                "updated_at": r["last_synced_at"],
            }
            for r in rows
        ],
    )
