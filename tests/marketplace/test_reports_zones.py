"""Stores' own time zones: a store's rollups and reports are cut at its own midnight.

The same generated orders (two stores, some sold in the first and last hour of a Lagos day) are
reported by a store in Africa/Lagos and one moved to America/New_York: each report equals the
brute-force recount in the store's zone, before the job has rebuilt the moved store's days
(counted live) and after (closed days read from rollups stored in New York days).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from oja.core.db import unit_of_work
from oja.marketplace.reports import rollup
from oja.marketplace.reports.models import SALES_FIGURES, StoreSalesDay
from oja.marketplace.vendors.models import Vendor
from tests.conftest import Jobs

from .conftest import error_code
from .orders_kit import Shop
from .test_reports import (
    FIGURES,
    LAGOS,
    brute_force,
    expected_bucket,
    generate,
    report_url,
    rollup_rows,
    run_rollup,
)

NEW_YORK = ZoneInfo("America/New_York")


async def stored_days(app: Any, vendor_id: uuid.UUID) -> dict[date, dict[str, int]]:
    async with unit_of_work(app.state.runtime.database) as db:
        rows = (
            await db.scalars(select(StoreSalesDay).where(StoreSalesDay.vendor_id == vendor_id))
        ).all()
    return {r.day: {n: getattr(r, n) for n in FIGURES} for r in rows}


async def zones(app: Any, vendor_id: uuid.UUID) -> tuple[str | None, str | None]:
    async with unit_of_work(app.state.runtime.database) as db:
        found = await db.get(Vendor, vendor_id)
        assert found is not None
        return found.time_zone, found.rollup_time_zone


async def check_report(client: httpx.AsyncClient, store: Shop, zone: ZoneInfo, app: Any) -> None:
    """The store's report without ``tz``: its own zone, every day equal to the recount there."""
    vendor_id = uuid.UUID(store.store["id"])
    days, visitors, _ = await brute_force(app, vendor_id, zone)
    today = datetime.now(zone).date()
    first = today - timedelta(days=13)
    found = await client.get(report_url(first, today), headers=store.owner.headers)
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["tz"] == zone.key
    assert body["buckets"] == [
        expected_bucket(days, visitors, first + timedelta(days=n), first + timedelta(days=n))
        for n in range(14)
    ]
    assert body["totals"] == expected_bucket(days, visitors, first, today)


async def test_each_store_reports_and_rolls_up_in_its_own_time_zone(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await generate(app, client, monkeypatch)
    a_id, b_id = uuid.UUID(world.a.store["id"]), uuid.UUID(world.b.store["id"])
    assert await run_rollup(app, jobs, world.today - timedelta(days=14)) == ["succeeded"]
    shown = await client.get("/vendors/me", headers=world.b.owner.headers)
    assert shown.json()["time_zone"] == "Africa/Lagos"  # OJA_REPORTS_TIME_ZONE until set

    moved = await client.patch(
        "/vendors/me", json={"time_zone": "America/New_York"}, headers=world.b.owner.headers
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["time_zone"] == "America/New_York"
    shown = await client.get("/vendors/me", headers=world.b.owner.headers)
    assert shown.json()["time_zone"] == "America/New_York"
    assert await zones(app, b_id) == ("America/New_York", None)
    # Before the job has rebuilt B's days, its report is counted live in New York days.
    await check_report(client, world.b, NEW_YORK, app)

    lagos_rows_of_a = await stored_days(app, a_id)
    assert await jobs.run(app) == ["succeeded"]  # the rebuild the change enqueued
    assert await zones(app, b_id) == ("America/New_York", "America/New_York")
    assert await stored_days(app, a_id) == lagos_rows_of_a
    # B's stored days are New York days: equal to the recount there, day by day, and orders sold
    # in the first hours of a Lagos day sit on the day before.
    ny_days, _, _ = await brute_force(app, b_id, NEW_YORK)
    lagos_days, _, _ = await brute_force(app, b_id, LAGOS)
    ny_yesterday = datetime.now(NEW_YORK).date() - timedelta(days=1)
    stored = await stored_days(app, b_id)
    assert stored == {d: f for d, f in ny_days.items() if d <= ny_yesterday}
    assert {d: f for d, f in ny_days.items() if d <= ny_yesterday} != {
        d: f for d, f in lagos_days.items() if d <= ny_yesterday
    }
    await check_report(client, world.b, NEW_YORK, app)
    await check_report(client, world.a, LAGOS, app)
    # Another tz is still answered, live.
    in_lagos = await client.get(
        report_url(world.today - timedelta(days=12), world.today, tz="Africa/Lagos"),
        headers=world.b.owner.headers,
    )
    assert in_lagos.json()["totals"] == expected_bucket(
        lagos_days,
        (await brute_force(app, b_id, LAGOS))[1],
        world.today - timedelta(days=12),
        world.today,
    )

    # The hourly run keeps each store in its zone: the same rows again.
    rows = await rollup_rows(app)
    assert await run_rollup(app, jobs, world.today - timedelta(days=14)) == ["succeeded"]
    assert await rollup_rows(app) == rows

    # Back to the default: the job moves B's days again.
    back = await client.patch(
        "/vendors/me", json={"time_zone": None}, headers=world.b.owner.headers
    )
    assert back.json()["time_zone"] == "Africa/Lagos"
    assert await jobs.run(app) == ["succeeded"]
    assert await zones(app, b_id) == (None, None)
    assert await stored_days(app, b_id) == {d: f for d, f in lagos_days.items() if d < world.today}
    await check_report(client, world.b, LAGOS, app)


async def test_an_unknown_time_zone_is_refused_and_changes_nothing(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await generate(app, client, monkeypatch)
    b_id = uuid.UUID(world.b.store["id"])
    for bad in ("Mars/Olympus", "", "x" * 65, 5):
        refused = await client.patch(
            "/vendors/me", json={"time_zone": bad}, headers=world.b.owner.headers
        )
        assert (refused.status_code, error_code(refused)) == (422, "validation_error"), bad
    assert await zones(app, b_id) == (None, None)
    # Setting the default zone by name moves no rollups: no job is enqueued.
    same = await client.patch(
        "/vendors/me", json={"time_zone": "Africa/Lagos"}, headers=world.b.owner.headers
    )
    assert same.status_code == 200
    assert await jobs.run(app) == []


def test_the_stored_figures_are_read_in_the_order_of_figures() -> None:
    assert rollup.FIGURE_NAMES == SALES_FIGURES
