"""Provenance of imported products: source, source id, URL, last synced, the source's cost and
stock, per product and per SKU (each SKU one variant). Written in the batch's unit of work, after
the catalogue rows it describes, one statement per kind of row."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.ids import uuid7
from oja.marketplace.aliexpress import repository
from oja.marketplace.aliexpress.models import ProductSource, ProductSourceVariant
from oja.marketplace.imports.repository import update_many

if TYPE_CHECKING:
    from oja.marketplace.aliexpress.imports import Planned

SOURCE = "aliexpress"
SKU_PREFIX = "AE-"
_SOURCE_FIELDS = (
    "product_id",
    "source_url",
    "source_category_id",
    "source_price",
    "source_currency",
    "source_stock",
    "price_rule",
    "sku_ids",
    "available",
    "unavailable_reason",
    "last_synced_at",
)
_VARIANT_FIELDS = (
    "product_id",
    "variant_id",
    "sku_attr",
    "source_price",
    "source_currency",
    "source_stock",
)


@dataclass(frozen=True, slots=True)
class CostChange:
    product_id: uuid.UUID
    sku_id: str
    old: int
    new: int
    currency: str


async def record(
    db: AsyncSession, vendor_id: uuid.UUID, chunk: list[Planned], now: datetime
) -> list[CostChange]:
    """Insert or update the provenance of ``chunk``'s written products; the SKUs whose source
    cost changed since it was last recorded."""
    if not chunk:
        return []
    skus = [SKU_PREFIX + v.sku_id for p in chunk for v in p.variants]
    variants = await repository.variant_ids_by_sku(db, vendor_id, skus)
    sources = await repository.sources_by_id(db, vendor_id, SOURCE, [p.ae_id for p in chunk])
    known = await repository.source_variants(
        db, vendor_id, SOURCE, [v.sku_id for p in chunk for v in p.variants]
    )
    new_sources: list[dict[str, Any]] = []
    source_updates: list[dict[str, Any]] = []
    new_variants: list[dict[str, Any]] = []
    variant_updates: list[dict[str, Any]] = []
    changes: list[CostChange] = []
    for planned in chunk:
        product = planned.product
        assert product is not None
        written = [(v, variants.get(SKU_PREFIX + v.sku_id)) for v in planned.variants]
        ids = [ids for _, ids in written if ids is not None]
        if not ids:
            continue  # the planner refused every variant
        product_id = ids[0][1]
        fields: dict[str, Any] = {
            "product_id": product_id,
            "source_url": product.url,
            "source_category_id": product.category_id,
            "source_price": min(v.price for v in planned.variants),
            "source_currency": planned.variants[0].currency,
            "source_stock": sum(v.stock for v in planned.variants),
            "price_rule": planned.rule.as_json(),
            "sku_ids": planned.sku_ids,
            "available": True,
            "unavailable_reason": None,
            "last_synced_at": now,
        }
        existing = sources.get(planned.ae_id)
        if existing is None:
            new_sources.append(
                {
                    "id": uuid7(),
                    "vendor_id": vendor_id,
                    "source": SOURCE,
                    "source_id": planned.ae_id,
                    "created_at": now,
                    "updated_at": now,
                    **fields,
                }
            )
        else:
            source_updates.append({"id": existing.id, "vendor_id": vendor_id, **fields})
        for variant, found in written:
            if found is None:
                continue
            values = {
                "product_id": found[1],
                "variant_id": found[0],
                "sku_attr": variant.sku_attr[:500],
                "source_price": variant.price,
                "source_currency": variant.currency,
                "source_stock": variant.stock,
            }
            mapped = known.get(variant.sku_id)
            if mapped is None:
                new_variants.append(
                    {
                        "id": uuid7(),
                        "vendor_id": vendor_id,
                        "source": SOURCE,
                        "source_sku_id": variant.sku_id,
                        **values,
                    }
                )
                continue
            variant_updates.append({"id": mapped.id, "vendor_id": vendor_id, **values})
            if mapped.source_price != variant.price:
                changes.append(
                    CostChange(
                        found[1],
                        variant.sku_id,
                        mapped.source_price,
                        variant.price,
                        variant.currency,
                    )
                )
    await repository.insert_rows(db, ProductSource, new_sources)
    await update_many(db, ProductSource, _SOURCE_FIELDS, source_updates)
    await repository.insert_rows(db, ProductSourceVariant, new_variants)
    await _update_variants(db, variant_updates)
    return changes


async def _update_variants(db: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """``update_many`` sets ``updated_at``, which a SKU's mapping does not have."""
    if not rows:
        return
    table: Any = ProductSourceVariant.__table__
    statement = update(table).where(
        table.c.id == bindparam("b_id"), table.c.vendor_id == bindparam("b_vendor_id")
    )
    await db.execute(
        statement,
        [
            {"b_id": r["id"], "b_vendor_id": r["vendor_id"]}
            | {name: r[name] for name in _VARIANT_FIELDS}
            for r in rows
        ],
    )
