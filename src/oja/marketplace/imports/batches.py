"""One batch of an import: planned from a few reads, applied in one statement per kind of row.

The catalogue's invariants are kept as its services keep them, without their per-row statements:
SKUs stay unique per store (the unique constraint backs the planner's check), every variant's
first price and every price change is a ``price_change`` row, every stock change a
``stock_movement`` row (reason ``import``) whose before/after balance, and a product's variants
share one currency. Existing variants are read ``FOR UPDATE`` on PostgreSQL, so the stock a
movement records as "before" is the stock it replaced.

Planning never changes the run's state: a batch whose statements fail (a SKU taken meanwhile by
a request) is planned again from scratch, and its additions reach :class:`RunState` only once it
has committed (:meth:`RunState.merge`).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.ids import uuid7
from oja.marketplace.catalog.models import (
    PriceChange,
    Product,
    ProductStatus,
    ProductVariant,
)
from oja.marketplace.imports import repository
from oja.marketplace.imports.models import ProductHandle, ProductImportRow
from oja.marketplace.imports.parsing import Failure, Row, category_key
from oja.marketplace.inventory.models import StockMovement

DEFAULT_CURRENCY = "NGN"
DEFAULT_LOW_STOCK_THRESHOLD = 5


@dataclass(slots=True)
class ProductRef:
    id: uuid.UUID
    currency: str | None


@dataclass
class RunState:
    """What one run of an import remembers across batches (bounded by the file's distinct SKUs
    and products: ids and short strings, never ORM objects)."""

    vendor_id: uuid.UUID
    actor_id: uuid.UUID | None
    dry_run: bool
    lock: bool
    max_failed_rows: int
    failed_kept: int = 0
    skus: dict[str, int] = field(default_factory=dict)
    """SKU → the row that first named it."""
    products: dict[str, ProductRef] = field(default_factory=dict)
    """Product key (handle or title) → its product."""
    applied: set[str] = field(default_factory=set)
    """Product keys whose product fields this file has already set (from their first row)."""
    categories: dict[str, uuid.UUID | None] = field(default_factory=dict)
    image_positions: dict[uuid.UUID, int] = field(default_factory=dict)
    """Product → the position its next image URL of this file takes."""

    def remember(self, number: int, raw: dict[str, str]) -> None:
        """A row a previous attempt applied: known for duplicate and first-row checks."""
        sku = raw.get("sku", "")
        if sku and sku not in self.skus:
            self.skus[sku] = number
        key = raw.get("handle", "") or raw.get("title", "")
        if key:
            self.applied.add(key)

    def merge(self, batch: Batch) -> None:
        self.skus.update(batch.skus)
        self.products.update(batch.products)
        self.applied |= batch.applied
        self.failed_kept += len(batch.failures)
        self.image_positions.update(batch.image_positions)


@dataclass
class Batch:
    counts: Counter[str] = field(default_factory=Counter)
    failures: list[dict[str, Any]] = field(default_factory=list)
    skus: dict[str, int] = field(default_factory=dict)
    products: dict[str, ProductRef] = field(default_factory=dict)
    applied: set[str] = field(default_factory=set)
    new_products: list[dict[str, Any]] = field(default_factory=list)
    new_handles: list[dict[str, Any]] = field(default_factory=list)
    product_updates: list[dict[str, Any]] = field(default_factory=list)
    new_variants: list[dict[str, Any]] = field(default_factory=list)
    variant_updates: list[dict[str, Any]] = field(default_factory=list)
    price_changes: list[dict[str, Any]] = field(default_factory=list)
    movements: list[dict[str, Any]] = field(default_factory=list)
    images: list[tuple[uuid.UUID, str, int]] = field(default_factory=list)
    """``(product id, URL, position)`` of each image URL, once per product in the batch."""
    image_positions: dict[uuid.UUID, int] = field(default_factory=dict)
    image_urls: dict[uuid.UUID, set[str]] = field(default_factory=dict)

    def searchable_changes(self) -> list[uuid.UUID]:
        """Products whose indexed fields (text, status, variants' prices) this batch writes; a
        stock-only change is not one (search reads stock live)."""
        ids = {p["id"] for p in (*self.new_products, *self.product_updates)}
        ids |= {v["product_id"] for v in (*self.new_variants, *self.price_changes)}
        return sorted(ids)


class _Planner:
    def __init__(self, state: RunState, batch: Batch, import_id: uuid.UUID, now: datetime) -> None:
        self.state, self.batch, self.import_id, self.now = state, batch, import_id, now

    def fail(self, number: int, sku: str | None, reason: str) -> None:
        self.batch.counts["failed"] += 1
        if self.state.failed_kept + len(self.batch.failures) < self.state.max_failed_rows:
            self.batch.failures.append(
                {
                    "id": uuid7(),
                    "vendor_id": self.state.vendor_id,
                    "import_id": self.import_id,
                    "row_number": number,
                    "sku": None if sku is None else sku[:200],
                    "reason": reason[:500],
                    "created_at": self.now,
                }
            )

    def known_product(self, key: str) -> ProductRef | None:
        return self.batch.products.get(key) or self.state.products.get(key)

    def new_product(self, row: Row, ref: ProductRef, category_id: uuid.UUID | None) -> None:
        vendor_id = self.state.vendor_id
        self.batch.new_products.append(
            {
                "id": ref.id,
                "vendor_id": vendor_id,
                "title": row.title,
                "description": row.description,
                "category_id": category_id,
                "attributes": row.attributes or {},
                "status": row.status or ProductStatus.draft,
                "created_at": self.now,
                "updated_at": self.now,
            }
        )
        self.batch.new_handles.append(self.handle(row.product_key, ref.id))

    def handle(self, key: str, product_id: uuid.UUID) -> dict[str, Any]:
        return {
            "id": uuid7(),
            "vendor_id": self.state.vendor_id,
            "handle": key,
            "product_id": product_id,
            "created_at": self.now,
        }

    def product_changes(
        self, row: Row, product: Product, category_id: uuid.UUID | None
    ) -> dict[str, Any] | None:
        """The product's fields after this row (its given cells), or None if nothing changes."""
        current = {
            "title": product.title,
            "description": product.description,
            "category_id": product.category_id,
            "status": product.status,
            "attributes": product.attributes,
        }
        wanted = dict(current, title=row.title)
        if row.description is not None:
            wanted["description"] = row.description
        if row.category is not None:
            wanted["category_id"] = category_id
        if row.status is not None:
            wanted["status"] = row.status
        if row.attributes is not None:
            wanted["attributes"] = row.attributes
        if wanted == current:
            return None
        return {"id": product.id, "vendor_id": product.vendor_id, **wanted}

    def images(self, row: Row, product_id: uuid.UUID) -> None:
        """The row's image URLs, numbered after the product's earlier ones in this file."""
        batch = self.batch
        listed = (
            {url for pid, url, _ in batch.images if pid == product_id} if row.image_urls else ()
        )
        for url in row.image_urls:
            if url in listed:
                continue
            position = batch.image_positions.get(
                product_id, self.state.image_positions.get(product_id, 0)
            )
            batch.image_positions[product_id] = position + 1
            batch.images.append((product_id, url, position))

    def new_variant(self, row: Row, ref: ProductRef, currency: str) -> None:
        variant = {
            "id": uuid7(),
            "vendor_id": self.state.vendor_id,
            "product_id": ref.id,
            "sku": row.sku,
            "options": row.options or {},
            "price": row.price,
            "currency": currency,
            "compare_at_price": row.compare_at_price,
            "stock": row.stock or 0,
            "low_stock_threshold": DEFAULT_LOW_STOCK_THRESHOLD
            if row.low_stock_threshold is None
            else row.low_stock_threshold,
            "weight_grams": row.weight_grams,
            "created_at": self.now,
            "updated_at": self.now,
        }
        self.batch.new_variants.append(variant)
        actor = self.state.actor_id
        self.batch.price_changes.append(
            repository.price_change(variant, actor, (None, None), self.now)
        )
        if variant["stock"]:
            self.batch.movements.append(repository.stock_movement(variant, actor, 0, self.now))

    def changed_variant(self, row: Row, variant: ProductVariant) -> bool:
        current = {
            "id": variant.id,
            "vendor_id": variant.vendor_id,
            "product_id": variant.product_id,
            "currency": variant.currency,
            "options": variant.options,
            "price": variant.price,
            "compare_at_price": variant.compare_at_price,
            "stock": variant.stock,
            "low_stock_threshold": variant.low_stock_threshold,
            "weight_grams": variant.weight_grams,
        }
        wanted = dict(current, price=row.price)
        for name in ("options", "compare_at_price", "stock", "low_stock_threshold", "weight_grams"):
            value = getattr(row, name)
            if value is not None:
                wanted[name] = value
        if wanted == current:
            return False
        self.batch.variant_updates.append(wanted)
        actor = self.state.actor_id
        old_prices = (variant.price, variant.compare_at_price)
        if (wanted["price"], wanted["compare_at_price"]) != old_prices:
            self.batch.price_changes.append(
                repository.price_change(wanted, actor, old_prices, self.now)
            )
        if wanted["stock"] != current["stock"]:
            self.batch.movements.append(
                repository.stock_movement(wanted, actor, variant.stock, self.now)
            )
        return True


async def _resolve_categories(db: AsyncSession, state: RunState, rows: list[Row]) -> None:
    refs = {category_key(r.category) for r in rows if r.category is not None}
    missing = {ref for ref in refs if ref[1] not in state.categories}
    if not missing:
        return
    found = await repository.categories(
        db, [cid for cid, _ in missing if cid is not None], [s for cid, s in missing if cid is None]
    )
    for _, text in missing:
        state.categories[text] = None
    for category_id, slug in found:
        state.categories[slug.lower()] = category_id
        state.categories[str(category_id)] = category_id


async def plan(
    db: AsyncSession,
    state: RunState,
    import_id: uuid.UUID,
    items: list[Row | Failure],
    now: datetime,
) -> Batch:
    """What applying ``items`` means: every row's outcome and the rows to write. Reads only."""
    batch = Batch()
    planner = _Planner(state, batch, import_id, now)
    rows: list[Row] = []
    for item in items:
        if isinstance(item, Failure):
            planner.fail(item.number, item.sku, item.reason)
            continue
        first = state.skus.get(item.sku) or batch.skus.get(item.sku)
        if first is not None:
            planner.fail(item.number, item.sku, f"SKU {item.sku!r} is already on row {first}")
            continue
        batch.skus[item.sku] = item.number
        rows.append(item)
    if not rows:
        return batch
    await _resolve_categories(db, state, rows)
    vendor_id = state.vendor_id
    existing = {
        v.sku: v
        for v in await repository.variants_by_sku(
            db, vendor_id, [r.sku for r in rows], lock=state.lock
        )
    }
    unknown_keys = {r.product_key for r in rows} - state.products.keys()
    handles = await repository.handles(db, vendor_id, sorted(unknown_keys))
    product_ids = {v.product_id for v in existing.values()} | set(handles.values())
    products = await repository.products(db, vendor_id, sorted(product_ids))
    currencies = await repository.currencies(db, vendor_id, sorted(set(handles.values())))
    found = _Found(existing, handles, products, currencies)
    for row in rows:
        _plan_row(planner, row, found)
    return batch


@dataclass(frozen=True)
class _Found:
    """What one batch's reads found."""

    variants: dict[str, ProductVariant]
    handles: dict[str, uuid.UUID]
    products: dict[uuid.UUID, Product]
    currencies: dict[uuid.UUID, str]


def _plan_row(planner: _Planner, row: Row, found: _Found) -> None:
    state, batch, key = planner.state, planner.batch, row.product_key
    variant = found.variants.get(row.sku)
    handles, products, currencies = found.handles, found.products, found.currencies
    category_id: uuid.UUID | None = None
    if row.category is not None:
        category_id = state.categories.get(category_key(row.category)[1])
        if category_id is None:
            planner.fail(
                row.number, row.sku, f"no category {row.category!r} (give a slug or an id)"
            )
            return
    created_product = False
    if variant is not None:
        if row.currency is not None and row.currency != variant.currency:
            planner.fail(
                row.number,
                row.sku,
                f"currency {row.currency} differs from the variant's {variant.currency} "
                "(change it with PATCH /products/{id}/variants/{variant_id})",
            )
            return
        ref = ProductRef(variant.product_id, variant.currency)
        if planner.known_product(key) is None:
            batch.products[key] = ref
            if key not in handles:
                batch.new_handles.append(planner.handle(key, ref.id))
    else:
        known = planner.known_product(key)
        if known is None and key in handles:
            known = ProductRef(handles[key], currencies.get(handles[key]))
        currency = row.currency or (known.currency if known else None) or DEFAULT_CURRENCY
        if known is not None and known.currency is not None and currency != known.currency:
            planner.fail(
                row.number,
                row.sku,
                f"currency {currency} differs from the product's other variants' {known.currency}",
            )
            return
        if known is None:
            ref = ProductRef(uuid7(), currency)
            planner.new_product(row, ref, category_id)
            batch.applied.add(key)
            created_product = True
        else:
            ref = ProductRef(known.id, currency)
        batch.products[key] = ref
    product_changed = False
    if not created_product and key not in state.applied and key not in batch.applied:
        batch.applied.add(key)
        product = products.get(ref.id)
        changes = None if product is None else planner.product_changes(row, product, category_id)
        if changes is not None:
            batch.product_updates.append(changes)
            product_changed = True
    planner.images(row, ref.id)
    if variant is None:
        planner.new_variant(row, ref, ref.currency or DEFAULT_CURRENCY)
        batch.counts["created"] += 1
    elif planner.changed_variant(row, variant) or product_changed:
        batch.counts["updated"] += 1
    else:
        batch.counts["unchanged"] += 1


async def write(db: AsyncSession, batch: Batch, *, dry_run: bool) -> None:
    """The batch's writes, one statement per kind (none of the catalogue's in a dry run)."""
    if not dry_run:
        await repository.insert_at_once(db, Product, batch.new_products)
        await repository.insert_at_once(db, ProductHandle, batch.new_handles)
        await repository.update_products(db, batch.product_updates)
        await repository.insert_at_once(db, ProductVariant, batch.new_variants)
        await repository.update_variants(db, batch.variant_updates)
        await repository.insert_at_once(db, PriceChange, batch.price_changes)
        await repository.insert_at_once(db, StockMovement, batch.movements)
    await repository.insert_at_once(db, ProductImportRow, batch.failures)
