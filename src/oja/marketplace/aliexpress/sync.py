"""Keeping imported products in step with AliExpress, and connections alive.

The sync re-reads the least recently synced imported products (every store's, a bounded batch a
run), store by store with the store's own token, within the app key's shared call budget. A
product still sold gets its cost, stock and price (its import's price rule applied again) through
the bulk import's planner, so every change is a price change or a stock movement; what the vendor
wrote (title, description, category, status) is left alone. A product AliExpress removed or no
longer ships to the store's country is marked unavailable and its stock set to 0 — never
deleted. A cost change beyond OJA_ALIEXPRESS_PRICE_ALERT_PERCENT notifies the store's staff
(``aliexpress.cost_changed``, through the notifications outbox, in the same unit of work).

A store whose connection lapsed is skipped (and logged): its products wait, the connection reads
``expired`` at ``GET /vendors/me/aliexpress/connection``. The refresh job renews tokens before
they lapse.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing.providers.port import ProviderCallError
from oja.core import events
from oja.core.clock import utcnow
from oja.core.db import is_sqlite, read_only, unit_of_work
from oja.core.ids import uuid7
from oja.core.jobs import JobContext
from oja.core.runtime import Runtime
from oja.identity.digests import seal, unseal
from oja.marketplace.aliexpress import pricing, provenance, repository
from oja.marketplace.aliexpress import service as connections
from oja.marketplace.aliexpress.config import AliExpressImportSettings
from oja.marketplace.aliexpress.imports import (
    SOURCE,
    ConnectionLost,
    Fetched,
    Planned,
    budget_for,
    fetch,
    handle,
    plan_product,
    sku,
    write_batch,
)
from oja.marketplace.errors import AliExpressConnectionExpired, AliExpressNotConnected
from oja.marketplace.imports import batches
from oja.marketplace.imports import repository as imports_repository
from oja.marketplace.imports.parsing import Failure, Row
from oja.marketplace.sources.aliexpress.config import AliExpressSettings

COST_CHANGED = "aliexpress.cost_changed"
REFRESH_BATCH = 500
log = structlog.get_logger("oja.marketplace.aliexpress")


@dataclass(frozen=True, slots=True)
class Due:
    """One imported product to sync (plain values: read in one session, written in another)."""

    id: uuid.UUID
    vendor_id: uuid.UUID
    product_id: uuid.UUID
    source_id: str
    price_rule: dict[str, Any]
    sku_ids: list[str] | None


async def sync(ctx: JobContext) -> dict[str, int]:
    runtime = ctx.runtime
    settings = runtime.settings.section(AliExpressImportSettings)
    source_settings = runtime.settings.section(AliExpressSettings)
    if not source_settings.aliexpress_app_key or not source_settings.aliexpress_app_secret:
        return {"skipped": 1}
    async with read_only(runtime.database) as db:
        due = [
            Due(s.id, s.vendor_id, s.product_id, s.source_id, dict(s.price_rule), s.sku_ids)
            for s in await repository.due_for_sync(
                db, SOURCE, limit=settings.aliexpress_sync_batch_products
            )
        ]
    by_store: dict[uuid.UUID, list[Due]] = defaultdict(list)
    for item in due:
        by_store[item.vendor_id].append(item)
    totals: dict[str, int] = defaultdict(int)
    async with connections.client_for(source_settings) as client:
        budget = budget_for(runtime, client)
        for vendor_id, items in by_store.items():
            try:
                async with read_only(runtime.database) as db:
                    token = await connections.access_token(
                        db, vendor_id, secret=runtime.settings.secret_key, now=utcnow()
                    )
                fetched = await fetch(
                    client,
                    budget,
                    token,
                    [i.source_id for i in items],
                    concurrency=settings.aliexpress_fetch_concurrency,
                )
            except (AliExpressConnectionExpired, AliExpressNotConnected, ConnectionLost) as exc:
                log.warning(
                    "marketplace.aliexpress.sync_skipped",
                    vendor_id=str(vendor_id),
                    reason="connection_expired",
                    detail=str(exc)[:200],
                )
                totals["stores_expired"] += 1
                continue
            outcome = await _apply(runtime, vendor_id, items, fetched, client.ship_to_country)
            for name, value in outcome.items():
                totals[name] += value
    log.info("marketplace.aliexpress.synced", **totals)
    return dict(totals)


async def _apply(
    runtime: Runtime, vendor_id: uuid.UUID, items: list[Due], fetched: Fetched, country: str
) -> dict[str, int]:
    settings = runtime.settings.section(AliExpressImportSettings)
    now = utcnow()
    async with unit_of_work(runtime.database) as db:
        titles = await repository.product_titles(db, vendor_id, [i.product_id for i in items])
        live: list[Planned] = []
        gone: list[Due] = []
        for position, item in enumerate(items, start=1):
            if item.product_id not in titles:
                continue  # the vendor deleted the product meanwhile
            product = fetched.products.get(item.source_id)
            if product is None:
                if item.source_id in fetched.gone:
                    gone.append(item)
                continue
            planned = Planned(
                position,
                item.source_id,
                pricing.PriceRule.from_json(item.price_rule),
                item.sku_ids,
                product=product,
            )
            plan_product(
                planned,
                rates=settings.aliexpress_currency_rates,
                category_id=None,
                status=None,
                title=titles[item.product_id],
            )
            if planned.failure is None:
                live.append(planned)
            else:
                log.warning(
                    "marketplace.aliexpress.sync_refused",
                    product_id=str(item.product_id),
                    reason=planned.failure,
                )
        state = batches.RunState(
            vendor_id=vendor_id,
            actor_id=None,
            dry_run=False,
            lock=not is_sqlite(runtime.database.url),
            max_failed_rows=0,
        )
        _, counts, changes = await write_batch(db, state, None, live, now)
        await _unavailable(db, state, gone, titles, now=now, country=country)
        vanished = await _vanished_skus(db, vendor_id, items, live)
        await _zero(
            db, state, vanished, items={i.product_id: i for i in items}, titles=titles, now=now
        )
        unread = [
            {
                "id": i.id,
                "available": True,
                "unavailable_reason": None,
                "last_synced_at": now,
            }
            for i in items
            if i.source_id in fetched.failures and i.source_id not in fetched.gone
        ]
        await repository.mark_sources(db, vendor_id, unread)
        alerts = await _alert(
            db, vendor_id, changes, titles, settings.aliexpress_price_alert_percent
        )
    return {
        "updated": counts["updated"],
        "unchanged": counts["unchanged"],
        "unavailable": len(gone),
        "unread": len(unread),
        "alerts": alerts,
    }


async def _unavailable(
    db: AsyncSession,
    state: batches.RunState,
    gone: list[Due],
    titles: dict[uuid.UUID, str],
    *,
    now: Any,
    country: str,
) -> None:
    """Stock 0 (a stock movement each) and ``available = false``: the product stays, unsellable."""
    if not gone:
        return
    by_product = {g.product_id: g for g in gone}
    skus = await repository.mapped_skus(db, state.vendor_id, sorted(by_product))
    await _zero(db, state, skus, items=by_product, titles=titles, now=now)
    reason = f"removed from AliExpress or no longer shipped to {country}"
    await repository.mark_sources(
        db,
        state.vendor_id,
        [
            {"id": g.id, "available": False, "unavailable_reason": reason, "last_synced_at": now}
            for g in gone
        ],
    )


async def _vanished_skus(
    db: AsyncSession, vendor_id: uuid.UUID, items: list[Due], live: list[Planned]
) -> list[tuple[uuid.UUID, str]]:
    """(product id, SKU id) of mapped variants whose SKU the source no longer sells, for the
    products read this run: they must not stay on sale with the stock they last had."""
    product_of = {i.source_id: i.product_id for i in items}
    selling = {
        product_of[p.ae_id]: {v.sku_id for v in p.product.variants}
        for p in live
        if p.product is not None
    }
    mapped = await repository.mapped_skus(db, vendor_id, sorted(selling))
    return [(product, sku_id) for product, sku_id in mapped if sku_id not in selling[product]]


async def _zero(
    db: AsyncSession,
    state: batches.RunState,
    skus: list[tuple[uuid.UUID, str]],
    *,
    items: dict[uuid.UUID, Due],
    titles: dict[uuid.UUID, str],
    now: Any,
) -> None:
    """Stock 0 for these (product id, SKU id) variants, a stock movement each."""
    if not skus:
        return
    variants = {
        v.sku: v
        for v in await imports_repository.variants_by_sku(
            db, state.vendor_id, [sku(s) for _, s in skus], lock=state.lock
        )
    }
    rows: list[Row | Failure] = []
    for number, (product_id, sku_id) in enumerate(skus, start=1):
        variant = variants.get(sku(sku_id))
        if variant is None:
            continue
        rows.append(
            Row(
                number=number,
                sku=variant.sku,
                title=titles[product_id],
                product_key=handle(items[product_id].source_id),
                price=variant.price,
                stock=0,
            )
        )
    batch = await batches.plan(db, state, uuid7(), rows, now)
    batch.failures = []
    await batches.write(db, batch, dry_run=False)


async def _alert(
    db: AsyncSession,
    vendor_id: uuid.UUID,
    changes: list[provenance.CostChange],
    titles: dict[uuid.UUID, str],
    threshold: Decimal,
) -> int:
    """One notification per product whose largest SKU cost change exceeds ``threshold`` %."""
    worst: dict[uuid.UUID, tuple[Decimal, provenance.CostChange]] = {}
    for change in changes:
        if change.old <= 0:
            continue
        percent = Decimal(change.new - change.old) * 100 / Decimal(change.old)
        if abs(percent) > threshold and abs(percent) > abs(
            worst.get(change.product_id, (Decimal(0), change))[0]
        ):
            worst[change.product_id] = (percent, change)
    if not worst:
        return 0
    staff = await repository.store_staff(db, vendor_id)
    for product_id, (percent, change) in sorted(worst.items()):
        await events.emit(
            COST_CHANGED,
            recipient_ids=staff,
            vendor_id=str(vendor_id),
            product_id=str(product_id),
            product_title=titles.get(product_id, ""),
            old_cost=change.old,
            new_cost=change.new,
            cost_currency=change.currency,
            percent=int(percent.to_integral_value()),
        )
    return len(worst)


async def refresh_tokens(ctx: JobContext) -> dict[str, int]:
    """Renew every access token that lapses within OJA_ALIEXPRESS_REFRESH_AHEAD seconds; one
    AliExpress refuses stays as it is (the connection then reads ``expired``) and is logged."""
    runtime = ctx.runtime
    source_settings = runtime.settings.section(AliExpressSettings)
    if not source_settings.aliexpress_app_key or not source_settings.aliexpress_app_secret:
        return {"skipped": 1}
    ahead = runtime.settings.section(AliExpressImportSettings).aliexpress_refresh_ahead
    secret = runtime.settings.secret_key
    now = utcnow()
    renewed = refused = 0
    async with connections.client_for(source_settings) as client:
        budget = budget_for(runtime, client)
        async with read_only(runtime.database) as db:
            due = [
                (c.id, c.vendor_id, unseal(secret, connections.TOKEN_LABEL, c.refresh_token_sealed))
                for c in await repository.connections_to_refresh(
                    db, before=now + timedelta(seconds=ahead), now=now, limit=REFRESH_BATCH
                )
            ]
        for _, vendor_id, refresh_token in due:
            try:
                token = await budget.call(partial(client.refresh_token, refresh_token))
            except ProviderCallError as exc:
                refused += 1
                log.warning(
                    "marketplace.aliexpress.refresh_refused",
                    vendor_id=str(vendor_id),
                    provider_code=exc.provider_code,
                )
                continue
            async with unit_of_work(runtime.database) as db:
                connection = await repository.for_vendor(db, vendor_id)
                if connection is None:
                    continue
                connection.access_token_sealed = seal(
                    secret, connections.TOKEN_LABEL, token.access_token
                )
                connection.refresh_token_sealed = seal(
                    secret, connections.TOKEN_LABEL, token.refresh_token
                )
                connection.access_expires_at = token.access_expires_at
                connection.refresh_expires_at = token.refresh_expires_at
            renewed += 1
    log.info("marketplace.aliexpress.tokens_refreshed", renewed=renewed, refused=refused)
    return {"renewed": renewed, "refused": refused}
