"""Recommendations on PostgreSQL: ``GET /recommendations`` next to a bare SELECT of the same
precomputed rows, the refresh jobs' duration, and what recording a view costs ``GET /products/{id}``.

The bench creates its own database on ``--postgres`` (dropped at the end), fills the catalogue with
:func:`bench.products.fill`, then writes the behaviour of the offline evaluation's generated users
(:mod:`oja.marketplace.recommendations.eval`: planted preferences over ``--catalogue`` of the
visible products) as anonymous browsers ``c:bench-…``, and runs the full refresh, then an
incremental one after 1 % more behaviour.

Latency, sequential requests over one keep-alive connection (httpx in this process), interleaved
rounds, each caller a random generated browser (``X-Client-Id``):

* **Oja**: ``GET /recommendations?limit=10`` through a real uvicorn process;
* **Oja's SQL**: the statements that request sent (captured from the app's engine in this
  process), replayed with asyncpg in one transaction (the ``SET LOCAL plan_cache_mode`` before
  the SELECT) — the floor of that query;
* **bare SELECT**: ``SELECT product_id, score FROM subject_recommendation WHERE subject = $1
  ORDER BY rank LIMIT 10`` with asyncpg — the precomputed rows without the read-time filters.

View recording: ``GET /products/{id}`` with ``X-Client-Id`` (buffered, written in batches after
the response) against without (nothing recorded), same server, interleaved.

    python -m bench.recommendations [--products 50000] [--catalogue 5000] [--users 2000]
        [--events 200000] [--requests 2000] [--rounds 3]
        [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/recommendations.py` puts bench/ first on sys.path, where bench/http.py would shadow
# the standard library's `http` package; put the repository root there instead.
if __name__ == "__main__":
    _bench_dir = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _bench_dir]
    sys.path.insert(0, str(_bench_dir.parent))

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import Any

from bench.common import bench_env, machine_line, markdown_table, percentile, uvicorn_server
from bench.http import load_average, postgres_reachable, scratch_database
from bench.products import SECRET, fill

Timed = Callable[[], Awaitable[None]]


async def behaviour(dsn: str, args: argparse.Namespace) -> tuple[list[str], list[uuid.UUID]]:
    """The generated users' behaviour as rows of ``behaviour_event``; their subjects and the
    catalogue they browsed."""
    import asyncpg

    from oja.core.clock import utcnow
    from oja.marketplace.recommendations import eval as offline

    connection = await asyncpg.connect(dsn)
    try:
        catalogue = [
            row["id"]
            for row in await connection.fetch(
                "SELECT p.id FROM product p JOIN vendor v ON v.id = p.vendor_id "
                "WHERE p.status = 'active' AND v.status = 'approved' ORDER BY p.id LIMIT $1",
                args.catalogue,
            )
        ]
        size = offline.Size(users=args.users, products=len(catalogue), events=args.events)
        data = offline.generate(size)
        shift = utcnow().replace(tzinfo=None) - offline.NOW
        records = [
            (
                uuid.uuid4(),
                e.kind,
                f"c:bench-{e.subject}",
                catalogue[e.product],
                uuid.uuid4() if e.kind == "purchase" else None,
                (e.at + shift).replace(tzinfo=UTC),
            )
            for e in data.train
        ]
        await connection.copy_records_to_table(
            "behaviour_event",
            records=records,
            columns=["id", "kind", "subject", "product_id", "group_id", "created_at"],
        )
        await connection.execute("ANALYZE behaviour_event")
        subjects = sorted({r[2] for r in records})
        return subjects, catalogue
    finally:
        await connection.close()


async def more_behaviour(dsn: str, subjects: list[str], catalogue: list[uuid.UUID], n: int) -> None:
    import asyncpg

    from oja.core.clock import utcnow

    rng = random.Random(7)
    now = utcnow()
    connection = await asyncpg.connect(dsn)
    try:
        await connection.copy_records_to_table(
            "behaviour_event",
            records=[
                (uuid.uuid4(), "view", rng.choice(subjects[:50]), rng.choice(catalogue), now)
                for _ in range(n)
            ],
            columns=["id", "kind", "subject", "product_id", "created_at"],
        )
    finally:
        await connection.close()


async def in_process(
    env: dict[str, str], dsn: str, subjects: list[str], catalogue: list[uuid.UUID], extra: int
) -> tuple[dict[str, Any], list[tuple[str, tuple[Any, ...]]]]:
    """Run the refreshes (timed) and capture the statements of one ``GET /recommendations``."""
    import httpx
    from sqlalchemy import event

    from oja.core.config import Settings
    from oja.core.db import unit_of_work
    from oja.main import create_app
    from oja.marketplace.recommendations import service

    fields = {k.removeprefix("OJA_").lower(): v for k, v in env.items() if k[:4] == "OJA_"}
    app = create_app(Settings(**fields))
    runtime = app.state.runtime
    timings: dict[str, Any] = {}
    try:
        began = time.perf_counter()
        async with unit_of_work(runtime.database) as db:
            timings["full"] = await service.refresh(db, runtime.settings, full=True)
        timings["full_s"] = time.perf_counter() - began
        await more_behaviour(dsn, subjects, catalogue, extra)
        began = time.perf_counter()
        async with unit_of_work(runtime.database) as db:
            timings["incremental"] = await service.refresh(db, runtime.settings)
        timings["incremental_s"] = time.perf_counter() - began

        sent: list[tuple[str, tuple[Any, ...]]] = []

        def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
            sent.append((statement, tuple(parameters or ())))

        engine = runtime.database.engine.sync_engine
        transport = httpx.ASGITransport(app=app)
        headers = {"X-Client-Id": subjects[0].removeprefix("c:")}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            await client.get("/recommendations", headers=headers)
            event.listen(engine, "before_cursor_execute", record)
            try:
                answer = await client.get("/recommendations", headers=headers)
            finally:
                event.remove(engine, "before_cursor_execute", record)
        answer.raise_for_status()
        timings["strategy"] = answer.json()["strategy"]
        return timings, sent
    finally:
        await runtime.close()


async def measure(name: str, call: Callable[[], Awaitable[None]], n: int) -> list[float]:
    latencies = []
    for _ in range(n):
        began = time.perf_counter()
        await call()
        latencies.append((time.perf_counter() - began) * 1000)
    return latencies


async def latencies(
    base_url: str,
    dsn: str,
    subjects: list[str],
    catalogue: list[uuid.UUID],
    statements: list[tuple[str, tuple[Any, ...]]],
    args: argparse.Namespace,
) -> dict[str, list[float]]:
    import asyncpg
    import httpx

    rng = random.Random(3)
    captured = subjects[0]  # the caller whose request the statements were captured from
    bare = (
        "SELECT product_id, score FROM subject_recommendation WHERE subject = $1 "
        "ORDER BY rank LIMIT 10"
    )
    results: dict[str, list[float]] = {}
    connection = await asyncpg.connect(dsn)
    try:
        async with httpx.AsyncClient(base_url=base_url) as client:

            async def oja() -> None:
                client_id = rng.choice(subjects).removeprefix("c:")
                answer = await client.get("/recommendations", headers={"X-Client-Id": client_id})
                answer.raise_for_status()

            async def oja_sql() -> None:
                subject = rng.choice(subjects)
                async with connection.transaction():  # as the request runs them (SET LOCAL)
                    for sql, params in statements:
                        await connection.fetch(
                            sql, *(subject if p == captured else p for p in params)
                        )

            async def bare_select() -> None:
                await connection.fetch(bare, rng.choice(subjects))

            product = str(catalogue[0])

            async def view_recorded() -> None:
                client_id = rng.choice(subjects).removeprefix("c:")
                answer = await client.get(
                    f"/products/{product}", headers={"X-Client-Id": client_id}
                )
                answer.raise_for_status()

            async def view_unrecorded() -> None:
                (await client.get(f"/products/{product}")).raise_for_status()

            calls: dict[str, Timed] = {
                "GET /recommendations (Oja)": oja,
                "Oja's SQL (asyncpg)": oja_sql,
                "bare SELECT (asyncpg)": bare_select,
                "GET /products/{id}, view recorded": view_recorded,
                "GET /products/{id}, not recorded": view_unrecorded,
            }
            for call in calls.values():  # warm-up
                for _ in range(50):
                    await call()
            for index in range(args.rounds):
                order = list(calls.items()) if index % 2 == 0 else list(calls.items())[::-1]
                for name, call in order:
                    results.setdefault(name, []).extend(await measure(name, call, args.requests))
    finally:
        await connection.close()
    return results


async def explain(dsn: str, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        for sql, params in statements:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue  # the SET LOCAL before the head's SELECT
            plan = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *params)
            print("\n" + "\n".join(row[0] for row in plan))
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--products", type=int, default=50_000)
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--roots", type=int, default=4)
    parser.add_argument("--catalogue", type=int, default=5_000)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE Oja's statement")
    args = parser.parse_args()
    print(f"## Recommendations on PostgreSQL\n\n{machine_line()}\n")
    if not postgres_reachable(args.postgres):
        print(f"skipped: no PostgreSQL answers at {args.postgres} (pass --postgres URL)")
        return
    with (
        tempfile.TemporaryDirectory(prefix="oja-bench-recs-") as tmp,
        scratch_database(args.postgres) as dsn,
    ):
        work = Path(tmp)
        began = time.perf_counter()
        world = asyncio.run(fill(dsn, products=args.products, stores=args.stores, roots=args.roots))
        subjects, catalogue = asyncio.run(behaviour(dsn, args))
        print(
            f"filled in {time.perf_counter() - began:.1f} s: "
            + ", ".join(f"{n:,} {table}" for table, n in world.rows.items())
            + f"; {args.events:,} behaviour events of {len(subjects):,} browsers over "
            f"{len(catalogue):,} products"
        )
        env = bench_env(
            OJA_VAR_DIR=str(work / "var"),
            OJA_DATABASE_URL=dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
            OJA_SECRET_KEY=SECRET,
            OJA_LOG_LEVEL="WARNING",
        )
        extra = max(args.events // 100, 1)
        timings, statements = asyncio.run(in_process(env, dsn, subjects, catalogue, extra))
        print(
            f"\nfull refresh {timings['full_s']:.1f} s ({timings['full']}); incremental refresh "
            f"after {extra:,} more views of 50 browsers {timings['incremental_s']:.1f} s "
            f"({timings['incremental']}); statements per GET /recommendations: {len(statements)} "
            f"(answer: {timings['strategy']})"
        )
        if args.explain:
            asyncio.run(explain(dsn, statements))
        with uvicorn_server(
            "oja.main:create_app", env=env, log_path=work / "oja.log", start_timeout=180
        ) as oja:
            found = asyncio.run(latencies(oja, dsn, subjects, catalogue, statements, args))
        print(
            f"\n{args.rounds} interleaved rounds of {args.requests:,} sequential requests per row, "
            f"one connection; load average {load_average()}\n"
        )
        rows = [
            [
                name,
                len(values),
                f"{statistics.median(values):.2f}",
                f"{percentile(values, 95):.2f}",
                f"{percentile(values, 99):.2f}",
            ]
            for name, values in found.items()
        ]
        print(markdown_table(["what", "n", "p50 ms", "p95 ms", "p99 ms"], rows))


if __name__ == "__main__":
    main()
