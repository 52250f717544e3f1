"""SQL for imports. Every statement on a vendor-owned table filters on ``vendor_id``; the batch
writes are one statement per kind of row per batch (executemany), never one per row."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, bindparam, func, insert, or_, select, text, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import TableValuedAlias

from oja.core.clock import utcnow
from oja.core.ids import uuid7
from oja.core.jobs import Job
from oja.core.pagination import PageParams
from oja.marketplace.catalog.models import Category, Product, ProductVariant
from oja.marketplace.imports.models import (
    ImportStatus,
    ProductHandle,
    ProductImport,
    ProductImportRow,
)

# Imports


async def by_key(
    db: AsyncSession, vendor_id: uuid.UUID, idempotency_key: str
) -> ProductImport | None:
    query = select(ProductImport).where(
        ProductImport.vendor_id == vendor_id, ProductImport.idempotency_key == idempotency_key
    )
    return (await db.scalars(query)).first()


async def get(db: AsyncSession, vendor_id: uuid.UUID, import_id: uuid.UUID) -> ProductImport | None:
    query = select(ProductImport).where(
        ProductImport.vendor_id == vendor_id, ProductImport.id == import_id
    )
    return (await db.scalars(query.execution_options(populate_existing=True))).first()


async def page(
    db: AsyncSession, vendor_id: uuid.UUID, paging: PageParams
) -> tuple[Sequence[ProductImport], int]:
    where = ProductImport.vendor_id == vendor_id
    total = (await db.execute(select(func.count()).where(where))).scalar_one()
    items = (
        await db.scalars(
            select(ProductImport)
            .where(where)
            .order_by(ProductImport.created_at.desc(), ProductImport.id.desc())
            .offset(paging.offset)
            .limit(paging.per_page)
        )
    ).all()
    return items, int(total)


async def failed_rows(
    db: AsyncSession, vendor_id: uuid.UUID, import_id: uuid.UUID, *, offset: int, limit: int
) -> Sequence[ProductImportRow]:
    query = (
        select(ProductImportRow)
        .where(ProductImportRow.vendor_id == vendor_id, ProductImportRow.import_id == import_id)
        .order_by(ProductImportRow.row_number)
        .offset(offset)
        .limit(limit)
    )
    return (await db.scalars(query)).all()


async def count_failed_rows(db: AsyncSession, vendor_id: uuid.UUID, import_id: uuid.UUID) -> int:
    query = select(func.count()).where(
        ProductImportRow.vendor_id == vendor_id, ProductImportRow.import_id == import_id
    )
    return int((await db.execute(query)).scalar_one())


async def start(
    db: AsyncSession,
    vendor_id: uuid.UUID,
    import_id: uuid.UUID,
    *,
    job_id: uuid.UUID,
    rows_total: int,
    unknown_columns: list[str],
) -> bool:
    """Mark the import running (a retry finds it running already); False if it has ended."""
    now = utcnow()
    done = await db.execute(
        update(ProductImport)
        .where(
            ProductImport.vendor_id == vendor_id,
            ProductImport.id == import_id,
            ProductImport.status.in_([ImportStatus.queued, ImportStatus.running]),
        )
        .values(
            status=ImportStatus.running,
            job_id=job_id,
            rows_total=rows_total,
            unknown_columns=unknown_columns,
            started_at=func.coalesce(ProductImport.started_at, now),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


async def claim_batch(
    db: AsyncSession,
    vendor_id: uuid.UUID,
    import_id: uuid.UUID,
    *,
    expected_done: int,
    rows_done: int,
) -> bool:
    """Advance ``rows_done`` from ``expected_done``, only if no other attempt has moved it: the
    fence that keeps a superseded worker from applying a batch twice. The first statement of a
    batch's transaction, it also holds the import's row lock until the batch commits."""
    done = await db.execute(
        update(ProductImport)
        .where(
            ProductImport.vendor_id == vendor_id,
            ProductImport.id == import_id,
            ProductImport.status == ImportStatus.running,
            ProductImport.rows_done == expected_done,
        )
        .values(rows_done=rows_done, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


async def add_counts(
    db: AsyncSession, vendor_id: uuid.UUID, import_id: uuid.UUID, counts: dict[str, int]
) -> None:
    await db.execute(
        update(ProductImport)
        .where(ProductImport.vendor_id == vendor_id, ProductImport.id == import_id)
        .values(
            created=ProductImport.created + counts.get("created", 0),
            updated=ProductImport.updated + counts.get("updated", 0),
            unchanged=ProductImport.unchanged + counts.get("unchanged", 0),
            failed=ProductImport.failed + counts.get("failed", 0),
        )
        .execution_options(synchronize_session=False)
    )


async def finish(
    db: AsyncSession,
    vendor_id: uuid.UUID,
    import_id: uuid.UUID,
    *,
    status: ImportStatus,
    error: str | None = None,
) -> bool:
    now = utcnow()
    done = await db.execute(
        update(ProductImport)
        .where(
            ProductImport.vendor_id == vendor_id,
            ProductImport.id == import_id,
            ProductImport.status.in_([ImportStatus.queued, ImportStatus.running]),
        )
        .values(status=status, error=error, finished_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


# Reads of one batch


async def categories(
    db: AsyncSession, ids: Sequence[uuid.UUID], slugs: Sequence[str]
) -> list[tuple[uuid.UUID, str]]:
    if not ids and not slugs:
        return []
    query = select(Category.id, Category.slug).where(
        or_(Category.id.in_(ids), func.lower(Category.slug).in_(slugs))
    )
    return [(row[0], row[1]) for row in (await db.execute(query)).all()]


# A batch's reads look up at most a batch of keys in a store of any size. On PostgreSQL each key
# is its own index probe: ``unnest(:keys)`` joined LATERAL to a one-row lookup on the unique key,
# which the planner cannot turn into a scan of the store. ``vendor_id = X AND key IN (:k1, …)``
# could: on a freshly filled table (no statistics) it puts only ``vendor_id`` in the index
# condition, and once the prepared statement goes generic the IN list is a list of parameters,
# tested one by one on every row of the store — every batch read the whole store, 1,000 times over.


def _is_postgres(db: AsyncSession) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def _unnest(column: Any, values: Sequence[Any]) -> TableValuedAlias:
    """``unnest(:values) AS k(key)``, the array typed as ``column``."""
    array = bindparam("keys", list(values), type_=ARRAY(column.type))
    return func.unnest(array).table_valued("key").render_derived(name="k")


async def variants_by_sku(
    db: AsyncSession, vendor_id: uuid.UUID, skus: Sequence[str], *, lock: bool
) -> Sequence[ProductVariant]:
    """This store's live variants with these SKUs (a deleted variant's SKU is free); locked (PostgreSQL) so that the stock read is the
    stock replaced, whatever orders do meanwhile."""
    if not skus:
        return []
    live = ProductVariant.deleted_at.is_(None)
    if not _is_postgres(db):
        query = select(ProductVariant).where(
            ProductVariant.vendor_id == vendor_id, ProductVariant.sku.in_(skus), live
        )
        return (await db.scalars(query)).all()
    keys = _unnest(ProductVariant.sku, skus)
    one = select(ProductVariant).where(
        ProductVariant.vendor_id == vendor_id, ProductVariant.sku == keys.c.key, live
    )
    if lock:
        one = one.with_for_update()
    found = one.offset(0).lateral("found")
    variant = aliased(ProductVariant, found)
    return (await db.scalars(select(variant).select_from(keys).join(found, true()))).all()


async def handles(
    db: AsyncSession, vendor_id: uuid.UUID, keys: Sequence[str]
) -> dict[str, uuid.UUID]:
    if not keys:
        return {}
    if not _is_postgres(db):
        query = select(ProductHandle.handle, ProductHandle.product_id).where(
            ProductHandle.vendor_id == vendor_id, ProductHandle.handle.in_(keys)
        )
        return dict((await db.execute(query)).all())
    wanted = _unnest(ProductHandle.handle, keys)
    found = (
        select(ProductHandle.product_id)
        .where(ProductHandle.vendor_id == vendor_id, ProductHandle.handle == wanted.c.key)
        .offset(0)
        .lateral("found")
    )
    query = select(wanted.c.key, found.c.product_id).select_from(wanted).join(found, true())
    return dict((await db.execute(query)).all())


async def products(
    db: AsyncSession, vendor_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Product]:
    if not ids:
        return {}
    if not _is_postgres(db):
        query = select(Product).where(Product.vendor_id == vendor_id, Product.id.in_(ids))
        return {p.id: p for p in (await db.scalars(query)).all()}
    keys = _unnest(Product.id, ids)
    found = (
        select(Product)
        .where(Product.vendor_id == vendor_id, Product.id == keys.c.key)
        .offset(0)
        .lateral("found")
    )
    product = aliased(Product, found)
    query = select(product).select_from(keys).join(found, true())
    return {p.id: p for p in (await db.scalars(query)).all()}


async def currencies(
    db: AsyncSession, vendor_id: uuid.UUID, product_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Each product's currency (every variant of a product has the same)."""
    if not product_ids:
        return {}
    # Not a LATERAL probe: per product, the planner prefers the store's (vendor_id, sku) index
    # to the product_id one and reads the whole store each time. The ids are rendered inline
    # (UUIDs, nothing to escape) so that every batch gets a custom plan, in which the IN list is
    # one constant array hashed once, not parameters compared one by one on every row.
    ids: ColumnElement[Any] = bindparam(
        "product_ids", list(product_ids), expanding=True, literal_execute=_is_postgres(db)
    )
    query = (
        select(ProductVariant.product_id, func.min(ProductVariant.currency))
        .where(
            ProductVariant.vendor_id == vendor_id,
            ProductVariant.product_id.in_(ids),
            ProductVariant.deleted_at.is_(None),
        )
        .group_by(ProductVariant.product_id)
    )
    return dict((await db.execute(query)).all())


async def analyze_catalogue(db: AsyncSession) -> None:
    """Fresh planner statistics for the tables a batch's reads probe (PostgreSQL).

    On a table never analysed (a new database, a store's first import) the planner takes the
    ``vendor_id`` index for the per-key probes of :func:`handles` and :func:`products` and filters
    the key: each probe reads the whole store (a store of 500 products, 572 handles looked up:
    286,000 tuples read, 91 ms; analysed, 0.6 ms). ANALYZE samples at most 30,000 rows a table."""
    if _is_postgres(db):
        await db.execute(text("ANALYZE product, product_handle, product_variant"))


# Writes of one batch: one statement each


async def insert_rows(db: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (complete column dicts) into ``model``'s table in one executemany."""
    if rows:
        await db.execute(insert(model.__table__), rows)


async def insert_at_once(db: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (complete column dicts, the same keys each) in one statement: on
    PostgreSQL ``INSERT … SELECT * FROM unnest(:column_1, :column_2, …)``, one array per column.

    An executemany runs the statement once per row: for ``product_variant`` its statement trigger
    too (the listing's recount), so a product with two new variants in a batch was rewritten
    twice; here once. One parameter per column whatever the row count (a multi-row ``VALUES``
    binds one per cell). SQLite's triggers are per row: an executemany there."""
    if not rows:
        return
    if not _is_postgres(db):
        await insert_rows(db, model, rows)
        return
    table = model.__table__
    names = list(rows[0])
    arrays = [
        bindparam(f"all_{name}", [row[name] for row in rows], type_=ARRAY(table.c[name].type))
        for name in names
    ]
    source = func.unnest(*arrays).table_valued(*names).render_derived(name="r")
    await db.execute(insert(table).from_select(names, select(*source.c)))


_PRODUCT_FIELDS = ("title", "description", "category_id", "status", "attributes")
_VARIANT_FIELDS = (
    "options",
    "price",
    "compare_at_price",
    "stock",
    "low_stock_threshold",
    "weight_grams",
)


async def update_many(
    db: AsyncSession, model: Any, fields: Sequence[str], rows: list[dict[str, Any]]
) -> None:
    if not rows:
        return
    table = model.__table__
    statement = update(table).where(
        table.c.id == bindparam("b_id"), table.c.vendor_id == bindparam("b_vendor_id")
    )
    now = utcnow()
    params = [
        {"b_id": r["id"], "b_vendor_id": r["vendor_id"], "updated_at": now}
        | {name: r[name] for name in fields}
        for r in rows
    ]
    await db.execute(statement, params)


async def update_products(db: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Set the product fields of each row (its ``id`` and ``vendor_id`` select it)."""
    await update_many(db, Product, _PRODUCT_FIELDS, rows)


async def update_variants(db: AsyncSession, rows: list[dict[str, Any]]) -> None:
    await update_many(db, ProductVariant, _VARIANT_FIELDS, rows)


def price_change(
    variant: dict[str, Any],
    actor_id: uuid.UUID | None,
    old: tuple[int | None, int | None],
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": uuid7(),
        "vendor_id": variant["vendor_id"],
        "product_id": variant["product_id"],
        "variant_id": variant["id"],
        "actor_id": actor_id,
        "old_price": old[0],
        "new_price": variant["price"],
        "old_compare_at_price": old[1],
        "new_compare_at_price": variant["compare_at_price"],
        "currency": variant["currency"],
        "created_at": now,
    }


def stock_movement(
    variant: dict[str, Any], actor_id: uuid.UUID | None, before: int, now: datetime
) -> dict[str, Any]:
    return {
        "id": uuid7(),
        "vendor_id": variant["vendor_id"],
        "variant_id": variant["id"],
        "actor_id": actor_id,
        "reason": "import",
        "stock_before": before,
        "stock_after": variant["stock"],
        "delta": variant["stock"] - before,
        "created_at": now,
    }


async def existing_job_keys(db: AsyncSession, keys: Sequence[str]) -> set[str]:
    """Which of these job dedupe keys some job already holds."""
    if not keys:
        return set()
    query = select(Job.dedupe_key).where(Job.dedupe_key.in_(keys))
    return {key for key in (await db.scalars(query)).all() if key is not None}
