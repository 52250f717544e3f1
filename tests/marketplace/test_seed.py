"""``oja seed``: a small generated marketplace on each backend — exact counts, every book
reconciled, searchable, signed in to, the same rows in two databases, added once."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from oja.core.clock import as_utc
from oja.core.config import Settings
from oja.core.db import Base, is_sqlite, unit_of_work
from oja.core.runtime import Runtime, running
from oja.marketplace.checkout.payments import expire_due
from oja.marketplace.seed.plan import EMAIL_DOMAIN, PASSWORD, SeedConfig
from oja.marketplace.seed.writer import COUNTED, SeedConflict, counts, default_now, seed
from oja.reconcile import run
from tests.conftest import make_settings

NOW = default_now()
"""Now, not a fixed date: groups awaiting payment must still be inside their reservation."""
SMALL = SeedConfig(now=NOW, products=200, vendors=5, buyers=30, seed=7)
EXPECTED = {
    "user": 35,  # 5 store owners, 30 buyers
    "user_role": 35,
    "category": 36,  # 8 roots, 28 leaves
    "vendor": 5,  # 1 pending
    "vendor_member": 5,
    "vendor_status_change": 4,
    "file": 10,
    "product": 200,
    "product_variant": 323,
    "price_change": 323,
    "product_image": 269,
    "stock_movement": 360,
    "order_group": 28,
    "store_order": 34,
    "order_line": 42,
    "order_transition": 102,
    "return_request": 2,
    "return_line": 3,
    "order_refund": 5,
    "review": 11,
    "review_summary": 9,
    "behaviour_event": 352,
    "store_settlement": 30,  # the store orders of the 25 paid groups
    "ledger_transaction": 30,  # 25 payments, 5 refunds
    "ledger_posting": 100,
    "search_document": 196,  # every active product (4 drafts)
}
GENERATED = {
    # Ids and clocks the ledger assigns itself as it books (uuid7, now): compared by content.
    "ledger_transaction": {"id", "created_at"},
    "ledger_posting": {"id", "transaction_id", "account_id", "created_at"},
    "ledger_account": {"id", "created_at"},
    "store_settlement": {"id", "created_at", "updated_at"},
}


MARKETPLACE = ("stock", "orders", "ledger", "ratings")
SEEDED = {str(m.__tablename__) for m in COUNTED} | {
    "ledger_account",
    "search_attribute",
    "search_term",
}
"""What the seed writes or derives (the migrations' own rows, e.g. ``rag_index_state``, differ
between a migrated SQLite file and a truncated PostgreSQL database)."""


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, float):
        return round(value, 6)
    return value


async def _rows(runtime: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows (generated ids and clocks left out), sorted, in plain values."""
    found = {}
    async with runtime.database.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name not in SEEDED:
                continue
            skip = GENERATED.get(table.name, set())
            columns = [c for c in table.columns if c.name not in skip]
            result = await conn.execute(select(*columns))
            found[table.name] = sorted(
                (tuple(_plain(v) for v in row) for row in result.all()), key=repr
            )
    return found


async def _counts(runtime: Runtime) -> dict[str, int]:
    async with runtime.database.sessionmaker() as db:
        return (await counts(db))[0]


async def _analyzed(runtime: Runtime, table: str) -> bool:
    """The table has planner statistics (PostgreSQL: analyzed; SQLite: a row in sqlite_stat1)."""
    async with runtime.database.sessionmaker() as db:
        if is_sqlite(runtime.database.url):
            query = "SELECT count(*) FROM sqlite_stat1 WHERE tbl = :table"
        else:
            query = (
                "SELECT count(*) FROM pg_stat_user_tables WHERE relname = :table"
                " AND coalesce(last_analyze, last_autoanalyze) IS NOT NULL"
            )
        return bool((await db.execute(text(query), {"table": table})).scalar_one())


async def test_a_small_seed_is_exact_reconciled_searchable_and_added_once(
    app: Any, client: httpx.AsyncClient
) -> None:
    runtime = app.state.runtime

    first = await seed(runtime, SMALL)

    assert first.added
    assert first.counts == EXPECTED
    assert first.orders_by_status == {
        "pending": 4,  # 3 groups awaiting payment
        "confirmed": 7,
        "shipped": 7,
        "delivered": 11,
        "canceled": 3,
        "returned": 2,
    }
    assert list(first.phases) == ["plan", "pictures", "inserts", "ledger", "search", "analyze"]
    assert await _analyzed(runtime, "product_variant")  # planned on statistics, not estimates
    # Judged at the seed's own clock: the module's NOW is taken at import, and a slow run (the
    # whole suite on a loaded machine) can reach this line after the unpaid groups' expiry plus
    # the stale margin, which the reconcile rightly reports as reserved past expiry.
    report = await run(runtime, stale_after=600, now=NOW)
    assert report.ok, report.table()
    assert {f.check for f in report.findings} >= set(MARKETPLACE)

    again = await seed(runtime, SMALL)  # the same arguments: nothing is added

    assert not again.added
    assert again.counts == EXPECTED
    assert await _counts(runtime) == EXPECTED
    with pytest.raises(SeedConflict):  # the same seed, other sizes: refused, nothing added
        await seed(runtime, SeedConfig(now=NOW, products=201, vendors=5, buyers=30, seed=7))
    assert await _counts(runtime) == EXPECTED

    product = (await client.get("/products", params={"per_page": 1})).json()["items"][0]
    found = await client.get("/search", params={"q": product["title"], "per_page": 100})
    assert found.status_code == 200, found.text
    assert product["id"] in [hit["id"] for hit in found.json()["items"]]
    assert [image["status"] for image in product["images"]] != []
    assert {image["status"] for image in product["images"]} == {"ready"}
    picture = await client.get(product["images"][0]["urls"]["thumbnail"])
    assert picture.status_code == 200
    assert picture.headers["content-type"] == "image/jpeg"

    login = await client.post(
        "/auth/login", json={"email": f"buyer0@{EMAIL_DOMAIN}", "password": PASSWORD}
    )
    assert login.status_code == 200, login.text

    # The services carry on from the seeded state: the unpaid groups expire (their stock comes
    # back through the expiry's own movements) and the books still agree.
    later = NOW + timedelta(hours=1)
    with running(runtime):
        async with unit_of_work(runtime.database) as db:
            assert await expire_due(db, later, limit=100) == 3
    report = await run(runtime, stale_after=600, now=later)
    books = {f.check: f.ok for f in report.findings if f.check in MARKETPLACE}
    assert books == dict.fromkeys(MARKETPLACE, True), report.table()
    async with runtime.database.sessionmaker() as db:
        statuses = (await counts(db))[1]
    assert statuses["canceled"] == 3 + 4  # 3 canceled when seeded, 4 store orders expired
    assert "pending" not in statuses


async def test_two_databases_seeded_alike_hold_the_same_rows(
    settings: Settings, tmp_path: Path, sqlite_template: Path
) -> None:
    twin_path = tmp_path / "twin.db"
    shutil.copy(sqlite_template, twin_path)
    twin_settings = make_settings(tmp_path / "twin", f"sqlite+aiosqlite:///{twin_path}")
    one, two = Runtime.create(settings), Runtime.create(twin_settings)
    try:
        await seed(one, SMALL)
        await seed(two, SMALL)

        rows_one, rows_two = await _rows(one), await _rows(two)
    finally:
        await one.close()
        await two.close()

    assert sum(len(rows) for rows in rows_one.values()) > 2_000
    assert {name: len(rows) for name, rows in rows_one.items()} == {
        name: len(rows) for name, rows in rows_two.items()
    }
    assert rows_one == rows_two


def test_the_cli_seeds_once_and_prints_its_summary(tmp_path: Path, sqlite_template: Path) -> None:
    from typer.testing import CliRunner

    from oja.cli import app

    database = tmp_path / "oja.db"
    shutil.copy(sqlite_template, database)
    env = {
        "OJA_ENV": "test",
        "OJA_SECRET_KEY": "seed-test-secret-key-0123456789abcdef-0123",
        "OJA_VAR_DIR": str(tmp_path / "var"),
        "OJA_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
    }
    sizes = ["seed", "--products", "20", "--vendors", "2", "--buyers", "6", "--seed", "3"]

    first = CliRunner().invoke(app, sizes, env=env)

    assert first.exit_code == 0, first.output
    assert re.search(r"^product +20$", first.output, re.MULTILINE), first.output
    assert "\nseeded in " in first.output
    again = CliRunner().invoke(app, sizes, env=env)
    assert again.exit_code == 0, again.output
    assert "already seeded, nothing added" in again.output
    other = CliRunner().invoke(
        app, ["seed", "--products", "21", "--vendors", "2", "--buyers", "6", "--seed", "3"], env=env
    )
    assert other.exit_code == 2
    assert "seeded with --seed 3 and 20 products, not 21" in other.output
    clean = CliRunner().invoke(app, ["reconcile"], env=env)
    assert clean.exit_code == 0, clean.output


async def _scans(conn: Any) -> tuple[int, int]:
    """``realtime_event``'s sequential and index scans the backend counted and did not report yet."""
    query = (
        "SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relname = 'realtime_event'"
    )
    seq, idx = (await conn.execute(text(query))).one()
    return int(seq), int(idx)


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_the_seed_leaves_the_tables_it_did_not_fill_unvacuumed(app: Any) -> None:
    """Issue 25: the seed's VACUUM (ANALYZE) of the empty ``realtime_event`` told PostgreSQL it
    was empty (``reltuples`` 0), so the foreign key's RI check of each topic row, planned once per
    connection while the table was small, read it by sequential scan all day (504 buffers a row).
    A never-vacuumed table (``reltuples`` -1) is planned as at least ten pages: the primary key."""
    runtime = app.state.runtime

    await seed(runtime, SMALL)

    async with runtime.database.engine.connect() as conn:
        estimates = dict(
            (
                await conn.execute(
                    text(
                        "SELECT relname, reltuples FROM pg_class WHERE relname IN"
                        " ('product', 'realtime_event', 'notification', 'notification_delivery')"
                    )
                )
            ).all()
        )
        before = await _scans(conn)
        for n in range(8):  # past the five custom plans: the generic plans are made and kept
            event_id = (
                await conn.execute(
                    text(
                        "INSERT INTO realtime_event (event, data, topics, created_at)"
                        " VALUES ('e', '{}', '[]', now()) RETURNING id"
                    )
                )
            ).scalar_one()
            await conn.execute(
                text("INSERT INTO realtime_event_topic (topic, event_id) VALUES (:topic, :id)"),
                {"topic": f"user:{n}", "id": event_id},
            )
        after = await _scans(conn)
        await conn.rollback()
    # Each topic row's RI check: one primary-key probe, no sequential scan.
    assert (after[0] - before[0], after[1] - before[1]) == (0, 8)
    assert estimates == {
        "product": EXPECTED["product"],
        "realtime_event": -1,
        "notification": -1,
        "notification_delivery": -1,
    }
