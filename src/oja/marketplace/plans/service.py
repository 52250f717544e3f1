"""Vendor plans and the traffic limit.

A store on a paid plan (an active :class:`VendorSubscription`) may serve the plan's ``user_limit``
distinct signed-in buyers per plan period; any other store is on the free tier
(``OJA_VENDOR_FREE_TIER_USERS`` per month). Periods are UTC calendar months or years, the quota
engine's windows. :func:`admit` runs on the store's product detail, cart-add and checkout routes.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing.plans import PLANS, VENDOR_PLANS, Audience
from oja.billing.quota import window
from oja.core.db import after_commit
from oja.core.runtime import Runtime, current_runtime
from oja.marketplace.errors import StoreSessionEnded, StoreTrafficLimit
from oja.marketplace.plans import alerts, repository
from oja.marketplace.plans.cache import AllowanceCache, per_runtime
from oja.marketplace.plans.config import VendorPlanSettings
from oja.marketplace.plans.models import SubscriptionStatus
from oja.marketplace.plans.schemas import SubscriptionOut, UsageOut, VendorPlanOut
from oja.marketplace.plans.traffic import Admission, RedisVisitors, Visitors, visitors_for

FREE = "free"


@dataclass(frozen=True, slots=True)
class Allowance:
    plan: str
    limit: int | None
    interval: Literal["month", "year"]

    def window(self) -> tuple[datetime, datetime]:
        return window(self.interval)


def vendor_plans() -> list[VendorPlanOut]:
    settings = current_runtime().settings.section(VendorPlanSettings)
    return [
        VendorPlanOut(
            code=plan.code,
            name=plan.name,
            interval=plan.interval,
            user_limit=plan.user_limit,
            price=settings.plan_prices[plan.code],
            currency=settings.plan_currency,
            provider=plan.provider or "paystack",
        )
        for plan in VENDOR_PLANS
    ]


def _allowance(code: str | None) -> Allowance:
    plan = PLANS.get(code) if code is not None else None
    if plan is None or plan.audience != Audience.vendor or plan.interval not in ("month", "year"):
        free = current_runtime().settings.section(VendorPlanSettings).free_tier_users
        return Allowance(plan=FREE, limit=free, interval="month")
    return Allowance(plan=plan.code, limit=plan.user_limit, interval=plan.interval)


async def allowances(
    db: AsyncSession, vendor_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Allowance]:
    plans = await repository.active_plans(db, vendor_ids)
    return {vendor_id: _allowance(plans.get(vendor_id)) for vendor_id in vendor_ids}


def _cache(runtime: Runtime) -> AllowanceCache[Allowance]:
    """With Redis an entry is checked against the store's version on every use and lives
    ``OJA_VENDOR_PLAN_CACHE_CHECKED_SECONDS`` (300); without, ``OJA_VENDOR_PLAN_CACHE_SECONDS``
    (5). With a 5 s life, 50 stores' entries expired under a third of the shopping day's product
    pages, and each such page read the plan on the request's path (issue 25)."""
    holder = per_runtime(runtime)
    found = holder.get("allowances")
    if found is None:
        settings = runtime.settings.section(VendorPlanSettings)
        checked = isinstance(visitors_for(runtime), RedisVisitors)
        ttl = settings.plan_cache_checked_seconds if checked else settings.plan_cache_seconds
        found = holder["allowances"] = AllowanceCache[Allowance](ttl)
    return found


async def _allowance_of(
    db: AsyncSession, runtime: Runtime, visitors: Visitors, vendor_id: uuid.UUID
) -> Allowance:
    """The store's allowance from the cache, or read (version first, so that a change landing
    between the two reads leaves the entry stale, not wrong) and cached."""
    hit = _cache(runtime).get(vendor_id)
    if hit is not None:
        return hit[0]
    version = (
        (await visitors.versions([vendor_id]))[0] if isinstance(visitors, RedisVisitors) else 0
    )
    found = (await allowances(db, [vendor_id]))[vendor_id]
    _cache(runtime).put(vendor_id, found, version)
    return found


async def _read_allowance(
    db: AsyncSession,
    runtime: Runtime,
    visitors: RedisVisitors,
    vendor_id: uuid.UUID,
    user_id: uuid.UUID,
) -> tuple[Allowance, dict[uuid.UUID, int | None]]:
    """The hot path's cache miss: the plan's version and the user's place in the store's period
    (monthly or yearly: the plan says which, so both) in one round trip, then the plan, read
    after the version as :func:`_allowance_of` reads it, and cached. The allowance and the
    stores counting the user."""
    starts = {interval: window(interval)[0] for interval in ("month", "year")}
    version, places = await visitors.version_and_places(vendor_id, list(starts.values()), user_id)
    allowance = (await allowances(db, [vendor_id]))[vendor_id]
    _cache(runtime).put(vendor_id, allowance, version)
    place = dict(zip(starts, places, strict=True))[allowance.interval]
    return allowance, ({} if place is None else {vendor_id: place})


async def invalidate(db: AsyncSession, vendor_ids: Collection[uuid.UUID]) -> None:
    """A store's plan changed in ``db``'s unit of work: drop this process's cached allowance, and
    with Redis bump the store's version so every other process drops its own — now, and again
    once ``db`` commits. The second time matters: a check between the first bump and the commit
    reads the new version but the old plan (the change is not visible yet) and caches them
    together; only a later version tells it the entry is stale."""
    runtime = current_runtime()
    stores = sorted(vendor_ids)
    visitors = visitors_for(runtime)

    async def drop() -> None:
        for vendor_id in stores:
            _cache(runtime).forget(vendor_id)
        if isinstance(visitors, RedisVisitors) and stores:
            await visitors.bump(stores)

    await drop()
    after_commit(db, drop)


async def plan_changed(db: AsyncSession, vendor_ids: Collection[uuid.UUID]) -> None:
    """Stores' plans changed (the caller's unit of work; an operator's change, or what falls
    due): cached allowances dropped, and the owners alerted at once of the highest threshold of
    the new limit the period's users already reach and were not alerted of — after a downgrade
    below the count, the 100 % alert. The users beyond the new limit meet
    ``store_session_ended`` on their next request (:func:`admit_all`)."""
    await invalidate(db, vendor_ids)
    visitors = visitors_for(current_runtime())
    for vendor_id, found in sorted((await allowances(db, vendor_ids)).items()):
        start, end = found.window()
        used = await visitors.used(db, vendor_id, (start, end))
        await alerts.on_admission(db, vendor_id, start, used, found.limit)


async def admit(db: AsyncSession, vendor_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Count ``user_id`` among the store's users this period, or raise ``store_traffic_limit``
    when the store is full and the user is not counted yet, or ``store_session_ended`` when the
    store is over its limit and the user's place is beyond it."""
    await admit_all(db, [vendor_id], user_id)


async def admit_all(
    db: AsyncSession,
    vendor_ids: Collection[uuid.UUID],
    user_id: uuid.UUID,
    *,
    lines: Mapping[uuid.UUID, list[dict[str, Any]]] | None = None,
) -> list[Admission]:
    """:func:`admit` for each of ``vendor_ids`` (a checkout's stores): two reads when every store
    already counts the user, one admission per store that does not. The new admissions.
    ``lines`` (store → the caller's references to its cart lines) are named in a refusal."""
    runtime = current_runtime()
    visitors = visitors_for(runtime)
    if len(vendor_ids) == 1:
        (vendor_id,) = vendor_ids
        known: dict[uuid.UUID, int | None] | None = None
        allowance: Allowance | None = None
        hit = _cache(runtime).get(vendor_id)
        if hit is not None and isinstance(visitors, RedisVisitors):
            # The hot path: one round trip (the user's place and the plan's version).
            place, version = await visitors.place_and_version(
                vendor_id, hit[0].window()[0], user_id
            )
            if version == hit[1]:
                known = {} if place is None else {vendor_id: place}
            else:
                _cache(runtime).forget(vendor_id)
        elif hit is None and isinstance(visitors, RedisVisitors):
            allowance, known = await _read_allowance(db, runtime, visitors, vendor_id, user_id)
        if allowance is None:
            allowance = await _allowance_of(db, runtime, visitors, vendor_id)
        found = {vendor_id: allowance}
        windows = {vendor_id: allowance.window()}
        if known is None:
            known = await visitors.known(db, {vendor_id: windows[vendor_id][0]}, user_id)
    else:  # a checkout's stores: read as they are now
        found = await allowances(db, vendor_ids)
        windows = {v: allowance.window() for v, allowance in found.items()}
        known = await visitors.known(db, {v: w[0] for v, w in windows.items()}, user_id)
    for vendor_id in sorted(known):
        place, limit = known[vendor_id], found[vendor_id].limit
        if place is not None and limit is not None and place > limit:
            resets_at = windows[vendor_id][1]
            raise StoreSessionEnded(
                "This store is over its visitor allowance for now and your session with it has "
                f"ended; it reopens to you at {resets_at.isoformat()}. Your cart lines from it "
                "are kept.",
                details=_refusal(vendor_id, resets_at, lines),
            )
    admitted = []
    for vendor_id in sorted(set(vendor_ids) - set(known)):
        admission = await visitors.admit(
            db, vendor_id, user_id, found[vendor_id].limit, windows[vendor_id]
        )
        if not admission.admitted:
            resets_at = windows[vendor_id][1]
            raise StoreTrafficLimit(
                "This store has reached its visitor limit for now; it reopens to new visitors at "
                f"{resets_at.isoformat()}.",
                details=_refusal(vendor_id, resets_at, lines),
            )
        if admission.counted is not None:
            await alerts.on_admission(
                db, vendor_id, windows[vendor_id][0], admission.counted, found[vendor_id].limit
            )
        admitted.append(admission)
    return admitted


def _refusal(
    vendor_id: uuid.UUID,
    resets_at: datetime,
    lines: Mapping[uuid.UUID, list[dict[str, Any]]] | None,
) -> dict[str, Any]:
    details: dict[str, Any] = {"vendor_id": str(vendor_id), "resets_at": resets_at.isoformat()}
    if lines is not None:
        details["lines"] = lines.get(vendor_id, [])
    return details


async def subscription(db: AsyncSession, vendor_id: uuid.UUID) -> SubscriptionOut:
    found = (await allowances(db, [vendor_id]))[vendor_id]
    start, end = found.window()
    users = await visitors_for(current_runtime()).used(db, vendor_id, (start, end))
    remaining = None if found.limit is None else max(0, found.limit - users)
    row = await repository.subscription_of(db, vendor_id)
    paid = row is not None and row.status == SubscriptionStatus.active
    return SubscriptionOut(
        plan=found.plan,
        status="free"
        if found.plan == FREE
        else "past_due"
        if row is not None and row.grace_until is not None
        else "active",
        interval=found.interval,
        period_start=start,
        period_end=end,
        usage=UsageOut(users=users, limit=found.limit, remaining=remaining, resets_at=end),
        paid_through=row.current_period_end if paid and row is not None else None,
        cancel_at_period_end=paid and row is not None and row.cancel_at_period_end,
        pending_plan=row.pending_plan if paid and row is not None else None,
        pending_at=row.pending_at if paid and row is not None else None,
        grace_until=row.grace_until if paid and row is not None else None,
    )
