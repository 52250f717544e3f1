"""Importing AliExpress products into a store: the same import resource as a bulk CSV file.

``POST /vendors/me/aliexpress/imports`` stores the request as the import's "file" (JSON) and
queues :data:`~oja.marketplace.aliexpress.jobs.import_products`. The job reads every product first
(within the app key's shared call budget), then writes them in committed batches through the bulk
import's own planner (:mod:`oja.marketplace.imports.batches`): a product is keyed by the handle
``aliexpress:<id>``, a SKU by ``AE-<sku id>``, so a re-import updates what it made and a SKU is one
variant; prices and stock changes are recorded as price changes and stock movements, images are
fetched by the files pipeline (never hot-linked). A token AliExpress refuses while reading fails
the whole import before anything is written: an import is never half applied for that reason.

An import "row" is one requested product: ``rows_total`` counts products, the counts say how many
products were created, updated, unchanged or failed, and a failed product's report row is its
position in the request with its AliExpress id as ``sku``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing.providers.port import ProviderCallError
from oja.core.clock import utcnow
from oja.core.db import after_rollback, is_sqlite, own_transaction, read_only, unit_of_work
from oja.core.errors import InvalidRequest
from oja.core.ids import uuid7
from oja.core.jobs import JobContext
from oja.core.runtime import Runtime
from oja.marketplace.aliexpress import categories, pricing, provenance, repository
from oja.marketplace.aliexpress import service as connections
from oja.marketplace.aliexpress.config import AliExpressImportSettings
from oja.marketplace.aliexpress.schemas import AliExpressImportIn, ImportProductIn
from oja.marketplace.errors import AliExpressConnectionExpired, AliExpressNotConnected
from oja.marketplace.imports import batches
from oja.marketplace.imports import repository as imports_repository
from oja.marketplace.imports import service as imports_service
from oja.marketplace.imports.models import ImportFormat, ImportStatus, ProductImport
from oja.marketplace.imports.parsing import Failure, Row
from oja.marketplace.search import service as search
from oja.marketplace.sources.aliexpress.client import AliExpressClient
from oja.marketplace.sources.aliexpress.config import AliExpressSettings
from oja.marketplace.sources.budget import CallBudget, DatabaseCallBudget
from oja.marketplace.sources.port import (
    SourceAuthorizationExpired,
    SourceProduct,
    SourceProductGone,
    SourceVariant,
)
from oja.marketplace.vendors.service import VendorContext

SOURCE = "aliexpress"
HANDLE_PREFIX = "aliexpress:"
SKU_PREFIX = "AE-"
VARIANT_SLOTS = 1000
"""Planner row numbers are ``position × VARIANT_SLOTS + variant``: unique per variant, and the
product's position is recovered from any of them."""
BATCH_ATTEMPTS = 3
log = structlog.get_logger("oja.marketplace.aliexpress")


def handle(ae_id: str) -> str:
    return HANDLE_PREFIX + ae_id


def sku(sku_id: str) -> str:
    return SKU_PREFIX + sku_id


# Accepting an import


def _items(body: AliExpressImportIn) -> list[ImportProductIn]:
    return [ImportProductIn(ae_id=p) if isinstance(p, str) else p for p in body.products]


def rule_for(
    item_rule: Any, body: AliExpressImportIn, settings: AliExpressImportSettings
) -> pricing.PriceRule:
    chosen = item_rule or body.price_rule
    return pricing.PriceRule(
        currency=chosen.currency or settings.aliexpress_store_currency.upper(),
        multiplier=chosen.multiplier,
        markup=chosen.markup,
        ending=chosen.ending,
    )


async def _validate(
    db: AsyncSession,
    body: AliExpressImportIn,
    settings: AliExpressImportSettings,
    source_currency: str,
) -> None:
    """Refuse (422, nothing stored) what the job could only fail on."""
    items = _items(body)
    problems: list[dict[str, Any]] = []
    if len(items) > settings.aliexpress_import_max_products:
        problems.append(
            {
                "loc": ["body", "products"],
                "msg": f"at most {settings.aliexpress_import_max_products} products an import",
                "type": "too_long",
            }
        )
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item.ae_id in seen:
            problems.append(
                {
                    "loc": ["body", "products", index],
                    "msg": f"product {item.ae_id} is named twice",
                    "type": "duplicate",
                }
            )
        seen.add(item.ae_id)
    wanted = {c for c in [body.category_id, *(i.category_id for i in items)] if c is not None}
    for missing in sorted(wanted - await repository.existing_categories(db, sorted(wanted))):
        problems.append(
            {"loc": ["body", "category_id"], "msg": f"no category {missing}", "type": "not_found"}
        )
    for rule in {rule_for(i.price_rule, body, settings).currency for i in items}:
        try:
            pricing.rate(settings.aliexpress_currency_rates, source_currency, rule)
        except pricing.MissingRate as exc:
            problems.append(
                {"loc": ["body", "price_rule", "currency"], "msg": str(exc), "type": "rate"}
            )
    if problems:
        raise InvalidRequest("The import request is not valid.", details=problems)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def create(
    db: AsyncSession,
    runtime: Runtime,
    ctx: VendorContext,
    body: AliExpressImportIn,
    *,
    idempotency_key: str | None,
) -> ProductImport:
    """Check the request and the store's connection, store the request, add the import and its
    job. The same ``idempotency_key`` again answers the first import (409 if the body differs)."""
    from oja.marketplace.aliexpress.jobs import import_products

    settings = runtime.settings.section(AliExpressImportSettings)
    source_settings = runtime.settings.section(AliExpressSettings)
    connections.require_configured(source_settings)
    await _validate(db, body, settings, source_settings.aliexpress_target_currency.upper())
    await connections.access_token(
        db, ctx.vendor_id, secret=runtime.settings.secret_key, now=utcnow()
    )
    data = json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()
    import_id = uuid7()
    key = f"imports/{ctx.vendor_id}/{import_id}.json"
    stored = await runtime.storage.put(key, _once(data), content_type="application/json")
    after_rollback(db, lambda: runtime.storage.delete(key))
    if idempotency_key is not None:
        existing = await imports_repository.by_key(db, ctx.vendor_id, idempotency_key)
        if existing is not None:
            await runtime.storage.delete(key)
            return imports_service.same_request(existing, stored.sha256, False)
    record = ProductImport(
        id=import_id,
        vendor_id=ctx.vendor_id,
        actor_id=ctx.user_id,
        filename=None,
        format=ImportFormat.aliexpress,
        storage_key=key,
        size=stored.size,
        sha256=stored.sha256,
        dry_run=False,
        idempotency_key=idempotency_key,
        status=ImportStatus.queued,
        rows_total=len(body.products),
        rows_done=0,
        created=0,
        updated=0,
        unchanged=0,
        failed=0,
        unknown_columns=[],
    )
    try:
        async with db.begin_nested():
            db.add(record)
            await db.flush()
    except IntegrityError:  # a concurrent request with the same key won
        assert idempotency_key is not None
        await runtime.storage.delete(key)
        winner = await imports_repository.by_key(db, ctx.vendor_id, idempotency_key)
        if winner is None:
            raise
        return imports_service.same_request(winner, stored.sha256, False)
    import_products.enqueue(db, import_id=import_id, vendor_id=ctx.vendor_id)
    log.info(
        "marketplace.aliexpress.import_accepted",
        import_id=str(import_id),
        vendor_id=str(ctx.vendor_id),
        products=len(body.products),
    )
    return record


async def imported_product(db: AsyncSession, vendor_id: uuid.UUID, ae_id: str) -> uuid.UUID | None:
    """The store's product imported from AliExpress product ``ae_id``, if any."""
    found = await repository.sources_by_id(db, vendor_id, SOURCE, [ae_id])
    return found[ae_id].product_id if ae_id in found else None


# Reading products from AliExpress


@dataclass
class Fetched:
    """What reading some products gave: each product, or why it could not be read."""

    products: dict[str, SourceProduct] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)


class ConnectionLost(Exception):
    """AliExpress refused the store's token while reading: nothing read is written."""

    def __init__(self, cause: SourceAuthorizationExpired) -> None:
        super().__init__(str(cause))
        self.cause = cause


def budget_for(runtime: Runtime, client: AliExpressClient) -> CallBudget:
    """The app key's budget: counted in Redis when there is one, else in the database."""
    key = f"aliexpress:{client.app_key}"
    per_second = runtime.settings.section(AliExpressImportSettings).aliexpress_calls_per_second
    if runtime.redis is None:
        return DatabaseCallBudget(runtime.database, key=key, per_second=per_second)
    return CallBudget(runtime.rate_limiter, key=key, per_second=per_second)


async def fetch(
    client: AliExpressClient,
    budget: CallBudget,
    token: str,
    ae_ids: Sequence[str],
    *,
    concurrency: int,
) -> Fetched:
    """Read ``ae_ids`` (``concurrency`` in flight, within ``budget``); :class:`ConnectionLost`
    as soon as AliExpress refuses the token (the other reads are cancelled)."""
    fetched = Fetched()
    slots = asyncio.Semaphore(concurrency)

    async def one(ae_id: str) -> None:
        async with slots:
            try:
                fetched.products[ae_id] = await budget.call(
                    lambda: client.product(ae_id, access_token=token)
                )
            except SourceAuthorizationExpired as exc:
                raise ConnectionLost(exc) from exc
            except SourceProductGone:
                fetched.gone.add(ae_id)
                fetched.failures[ae_id] = (
                    "AliExpress no longer offers this product "
                    f"(or does not ship it to {client.ship_to_country})"
                )
            except ProviderCallError as exc:
                fetched.failures[ae_id] = f"AliExpress refused to read it: {exc.message}"[:500]

    try:
        async with asyncio.TaskGroup() as group:
            for ae_id in ae_ids:
                group.create_task(one(ae_id))
    except* ConnectionLost as lost:
        first = lost.exceptions[0]
        assert isinstance(first, ConnectionLost)
        raise first from None
    return fetched


# Turning products into the planner's rows


@dataclass
class Planned:
    """One requested product, ready to write (``rows``) or failed (``failure``)."""

    position: int
    ae_id: str
    rule: pricing.PriceRule
    sku_ids: list[str] | None
    product: SourceProduct | None = None
    variants: list[SourceVariant] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    failure: str | None = None


def plan_product(
    planned: Planned,
    *,
    rates: dict[str, Any],
    category_id: uuid.UUID | None,
    status: str | None,
    title: str | None = None,
) -> Planned:
    """Fill ``planned.rows`` from its product (or set ``failure``). ``title`` keeps a product's
    current title (a sync changes costs and stock, never what the vendor wrote)."""
    product = planned.product
    assert product is not None
    wanted = set(planned.sku_ids) if planned.sku_ids is not None else None
    variants = [v for v in product.variants if wanted is None or v.sku_id in wanted]
    if wanted is not None and (unknown := wanted - {v.sku_id for v in variants}):
        planned.failure = f"AliExpress has no SKU {', '.join(sorted(unknown))} for this product"
        return planned
    if not variants:
        planned.failure = "the product has no variants to import"
        return planned
    if len(variants) >= VARIANT_SLOTS:
        planned.failure = f"more than {VARIANT_SLOTS - 1} variants"
        return planned
    images = list(product.images)
    rows = []
    for index, variant in enumerate(variants):
        try:
            price = pricing.apply(planned.rule, variant.price, variant.currency, rates)
        except pricing.MissingRate as exc:
            planned.failure = str(exc)
            return planned
        urls = [*images] if index == 0 else []
        if variant.image_url and variant.image_url not in images:
            urls.append(variant.image_url)
        rows.append(
            Row(
                number=planned.position * VARIANT_SLOTS + index,
                sku=sku(variant.sku_id),
                title=(title or product.title or f"AliExpress {product.source_id}")[:200],
                product_key=handle(product.source_id),
                price=price,
                description=None if title is not None else product.description,
                currency=planned.rule.currency,
                stock=variant.stock,
                status=status,
                category=None if category_id is None else str(category_id),
                options={o.name: o.value for o in variant.options},
                image_urls=urls,
            )
        )
    planned.variants, planned.rows = variants, rows
    return planned


# Writing one batch


def _failure(
    state: batches.RunState, import_id: uuid.UUID, planned: Planned, now: Any
) -> dict[str, Any]:
    return {
        "id": uuid7(),
        "vendor_id": state.vendor_id,
        "import_id": import_id,
        "row_number": planned.position,
        "sku": planned.ae_id,
        "reason": (planned.failure or "")[:500],
        "created_at": now,
    }


def product_outcomes(batch: batches.Batch, chunk: list[Planned]) -> Counter[str]:
    """Per product: created, updated, unchanged or failed (a product any of whose variants the
    planner refused counts as failed, with the planner's reason)."""
    refused = {f["row_number"] // VARIANT_SLOTS: f["reason"] for f in batch.failures}
    created = {p["id"] for p in batch.new_products}
    changed = {p["id"] for p in batch.product_updates}
    changed |= {v["product_id"] for v in (*batch.new_variants, *batch.variant_updates)}
    counts: Counter[str] = Counter()
    for planned in chunk:
        if planned.failure is None and planned.position in refused:
            planned.failure = str(refused[planned.position])
        ref = batch.products.get(handle(planned.ae_id))
        if planned.failure is not None or ref is None:
            counts["failed"] += 1
        elif ref.id in created:
            counts["created"] += 1
        elif ref.id in changed:
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    return counts


async def write_batch(
    db: AsyncSession,
    state: batches.RunState,
    import_id: uuid.UUID | None,
    chunk: list[Planned],
    now: Any,
) -> tuple[batches.Batch, Counter[str], list[provenance.CostChange]]:
    """Plan and write ``chunk``'s rows with their provenance, in the caller's unit of work; the
    SKUs whose source cost changed since last recorded come back."""
    rows: list[Row | Failure] = [row for planned in chunk for row in planned.rows]
    batch = await batches.plan(db, state, import_id or uuid7(), rows, now)
    counts = product_outcomes(batch, chunk)
    batch.failures = (
        [_failure(state, import_id, p, now) for p in chunk if p.failure is not None]
        if import_id is not None
        else []
    )
    batch.counts = counts
    await batches.write(db, batch, dry_run=False)
    await search.index_products(db, state.vendor_id, batch.searchable_changes())
    await imports_service.fetch_images(db, state.vendor_id, batch.images)
    changes = await provenance.record(db, state.vendor_id, [p for p in chunk if p.rows], now)
    return batch, counts, changes


# The job


async def _read_request(runtime: Runtime, key: str) -> AliExpressImportIn:
    data = b"".join([chunk async for chunk in runtime.storage.open(key)])
    return AliExpressImportIn.model_validate_json(data)


async def _finish(
    runtime: Runtime, record: ProductImport, status: ImportStatus, error: str | None = None
) -> None:
    async with own_transaction(runtime.database) as db:
        await imports_repository.finish(db, record.vendor_id, record.id, status=status, error=error)


async def run(ctx: JobContext, import_id: uuid.UUID, vendor_id: uuid.UUID) -> dict[str, Any]:
    """Read every requested product, then write them in committed batches (see the module)."""
    runtime = ctx.runtime
    settings = runtime.settings.section(AliExpressImportSettings)
    async with read_only(runtime.database) as db:
        record = await imports_repository.get(db, vendor_id, import_id)
    if record is None or record.status in (ImportStatus.succeeded, ImportStatus.failed):
        return {"skipped": True}
    body = await _read_request(runtime, record.storage_key)
    items = _items(body)
    async with own_transaction(runtime.database) as db:
        started = await imports_repository.start(
            db, vendor_id, import_id, job_id=ctx.job_id, rows_total=len(items), unknown_columns=[]
        )
    if not started:
        return {"skipped": True}
    try:
        async with read_only(runtime.database) as db:
            token = await connections.access_token(
                db, vendor_id, secret=runtime.settings.secret_key, now=utcnow()
            )
            resolve = await categories.resolver(db, runtime, vendor_id)
    except (AliExpressConnectionExpired, AliExpressNotConnected) as exc:
        await _finish(runtime, record, ImportStatus.failed, f"{exc.code}: {exc}")
        return {"failed": str(exc.code)}
    todo = [
        Planned(i + 1, item.ae_id, rule_for(item.price_rule, body, settings), item.sku_ids)
        for i, item in enumerate(items)
        if i + 1 > record.rows_done
    ]
    source_settings = runtime.settings.section(AliExpressSettings)
    async with connections.client_for(source_settings) as client:
        try:
            fetched = await fetch(
                client,
                budget_for(runtime, client),
                token,
                [p.ae_id for p in todo],
                concurrency=settings.aliexpress_fetch_concurrency,
            )
        except ConnectionLost as lost:
            error = connections.expired_error(lost.cause)
            await _finish(runtime, record, ImportStatus.failed, f"{error.code}: {error}")
            return {"failed": str(error.code)}
    by_ae = {item.ae_id: item for item in items}
    for planned in todo:
        item = by_ae[planned.ae_id]
        planned.product = fetched.products.get(planned.ae_id)
        if planned.product is None:
            planned.failure = fetched.failures.get(planned.ae_id, "not read")
            continue
        category_id = item.category_id or body.category_id
        if category_id is None:
            category_id = resolve(planned.product.category_id)
        plan_product(
            planned,
            rates=settings.aliexpress_currency_rates,
            category_id=category_id,
            status=item.status or body.status,
        )
    state = batches.RunState(
        vendor_id=vendor_id,
        actor_id=record.actor_id,
        dry_run=False,
        lock=not is_sqlite(runtime.database.url),
        max_failed_rows=len(items) * VARIANT_SLOTS,
        failed_kept=record.failed,
    )
    done = record.rows_done
    size = settings.aliexpress_import_batch_products
    try:
        for start in range(0, len(todo), size):
            chunk = todo[start : start + size]
            done = await _commit(ctx, state, record, chunk, done)
            await ctx.progress(done * 100 // max(len(items), 1), f"{done} of {len(items)}")
    except imports_service.ImportSuperseded:
        log.warning("marketplace.aliexpress.import_superseded", import_id=str(import_id))
        return {"superseded": True}
    await _finish(runtime, record, ImportStatus.succeeded)
    log.info("marketplace.aliexpress.import_finished", import_id=str(import_id), products=done)
    return {"products": done, "unread": len(fetched.failures)}


async def _commit(
    ctx: JobContext,
    state: batches.RunState,
    record: ProductImport,
    chunk: list[Planned],
    done: int,
) -> int:
    for attempt in range(1, BATCH_ATTEMPTS + 1):
        for planned in chunk:  # a replanned batch starts from the products' own outcome
            if planned.rows and planned.failure is not None:
                planned.failure = None
        try:
            async with unit_of_work(ctx.runtime.database) as db:
                if not await imports_repository.claim_batch(
                    db,
                    state.vendor_id,
                    record.id,
                    expected_done=done,
                    rows_done=done + len(chunk),
                ):
                    raise imports_service.ImportSuperseded
                batch, counts, _ = await write_batch(db, state, record.id, chunk, utcnow())
                await imports_repository.add_counts(db, state.vendor_id, record.id, dict(counts))
        except IntegrityError:
            if attempt == BATCH_ATTEMPTS:
                raise
            log.info("marketplace.aliexpress.batch_replanned", import_id=str(record.id))
            continue
        state.merge(batch)
        return done + len(chunk)
    raise AssertionError("unreachable")
