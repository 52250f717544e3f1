"""Notification fan-out: one ``product.new_from_followed_store`` event to N followers.

In one process, against a fresh migrated database (SQLite unless ``--database-url`` names a
PostgreSQL server: a new database is created there and dropped afterwards):

* the emit: the event inside a unit of work (the subscriber enqueues one job) and its commit;
* the fan-out job (``notifications.deliver_event``, run as a worker runs it): N rendered in-app rows
  (templates rendered per recipient, preferences read), N email deliveries, and N queued
  ``notifications.send_delivery`` jobs (the sends themselves are not run: they wait on providers);
* the baseline, in the same run and database: a bare ``INSERT … SELECT`` of the same N notification
  rows and N delivery rows from the ``user`` table (no rendering, no preferences, no jobs).

    python -m bench.notifications [--followers 10000] [--database-url postgresql://…]
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    _bench_dir = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _bench_dir]
    sys.path.insert(0, str(_bench_dir.parent))

import argparse
import asyncio
import tempfile
import time
import uuid

from sqlalchemy import insert, text

from bench.common import machine_line, markdown_table
from bench.imports import fresh_database
from oja.core import events
from oja.core.config import Settings
from oja.core.db import unit_of_work
from oja.core.ids import uuid7
from oja.core.jobs.runner import execute
from oja.core.migrate import upgrade
from oja.core.runtime import Runtime, running
from oja.identity.models import User
from oja.job_modules import job_registry

EVENT = "product.new_from_followed_store"
DATA = {
    "product_id": str(uuid.uuid4()),
    "product_title": "Jollof rice",
    "store_name": "Mama Put Foods",
    "price_amount": 250000,
    "currency": "NGN",
}


def _asyncpg(url: str) -> str:
    return (
        url.replace("postgresql://", "postgresql+asyncpg://", 1)
        if url.startswith("postgresql://")
        else url
    )


async def _users(runtime: Runtime, count: int) -> list[uuid.UUID]:
    ids = [uuid7() for _ in range(count)]
    async with unit_of_work(runtime.database) as session:
        for start in range(0, count, 1000):
            chunk = ids[start : start + 1000]
            await session.execute(
                insert(User),
                [{"id": i, "email": f"f{i.hex}@example.com", "name": "Follower"} for i in chunk],
            )
    return ids


BASELINE_SQLITE = (
    "INSERT INTO notification (id, user_id, event_id, event, category, title, body, data, created_at) "
    "SELECT lower(hex(randomblob(16))), id, :event_id, :event, 'promotions', 'New', 'Body', '{}', "
    'CURRENT_TIMESTAMP FROM "user"',
    "INSERT INTO notification_delivery (id, notification_id, channel, status, address, subject, body, "
    "attempts, created_at, updated_at) SELECT lower(hex(randomblob(16))), n.id, 'email', 'pending', "
    "u.email, 'New', 'Body', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM notification n "
    'JOIN "user" u ON u.id = n.user_id WHERE n.event_id = :event_id',
)
BASELINE_POSTGRES = (
    "INSERT INTO notification (id, user_id, event_id, event, category, title, body, data, created_at) "
    "SELECT gen_random_uuid(), id, :event_id, :event, 'promotions', 'New', 'Body', '{}', now() "
    'FROM "user"',
    "INSERT INTO notification_delivery (id, notification_id, channel, status, address, subject, body, "
    "attempts, created_at, updated_at) SELECT gen_random_uuid(), n.id, 'email', 'pending', u.email, "
    "'New', 'Body', 0, now(), now() FROM notification n JOIN \"user\" u ON u.id = n.user_id "
    "WHERE n.event_id = :event_id",
)


async def baseline(runtime: Runtime) -> float:
    postgres = runtime.database.url.startswith("postgresql")
    event_id = uuid.uuid4()
    statements = BASELINE_POSTGRES if postgres else BASELINE_SQLITE
    params = {"event_id": event_id if postgres else event_id.hex, "event": EVENT}
    started = time.perf_counter()
    async with unit_of_work(runtime.database) as session:
        for statement in statements:
            await session.execute(text(statement), params)
    elapsed = time.perf_counter() - started
    async with unit_of_work(runtime.database) as session:  # leave the tables as Oja will find them
        await session.execute(text("DELETE FROM notification"))
    return elapsed


async def main(followers: int, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = _asyncpg(database_url) if database_url else f"sqlite+aiosqlite:///{folder}/bench.db"
        await asyncio.to_thread(upgrade, url)
        settings = Settings(database_url=url, var_dir=Path(folder), env="test", log_level="WARNING")
        settings.validate()
        published: list[uuid.UUID] = []

        async def publish(task: str, job_id: uuid.UUID, countdown: float) -> None:
            published.append(job_id)

        runtime = Runtime.create(settings, registry=job_registry(), publisher=publish)
        try:
            ids = await _users(runtime, followers)
            base = await baseline(runtime)
            with running(runtime):
                started = time.perf_counter()
                async with unit_of_work(runtime.database):
                    await events.emit(EVENT, recipient_ids=ids, **DATA)
                emitted = time.perf_counter() - started
                [fan_out] = published
                started = time.perf_counter()
                outcome = await execute(str(fan_out), runtime)
                fanned = time.perf_counter() - started
            assert outcome == "succeeded", outcome
            async with runtime.database.engine.connect() as conn:
                rows = (await conn.execute(text("SELECT count(*) FROM notification"))).scalar_one()
                queued = (
                    await conn.execute(
                        text("SELECT count(*) FROM job WHERE kind = 'notifications.send_delivery'")
                    )
                ).scalar_one()
            assert rows == followers, rows
            assert queued == followers, queued
        finally:
            await runtime.close()
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(machine_line())
    print(f"{followers:,} followers, {backend}\n")
    print(
        markdown_table(
            ["what", "seconds", "in-app rows/s", "emails queued/s"],
            [
                ["emit + commit (enqueues the fan-out job)", emitted, float("nan"), float("nan")],
                [
                    "Oja fan-out job (render, preferences, rows, send jobs)",
                    fanned,
                    followers / fanned,
                    followers / fanned,
                ],
                [
                    "baseline: bare INSERT … SELECT of the same rows",
                    base,
                    followers / base,
                    followers / base,
                ],
            ],
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--followers", type=int, default=10_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    if args.database_url:
        with fresh_database(args.database_url) as dsn:
            asyncio.run(main(args.followers, dsn))
    else:
        asyncio.run(main(args.followers, None))
