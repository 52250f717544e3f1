"""Catalogue listing: ``GET /products`` over 100,000 products on PostgreSQL, next to the same SQL.

The bench creates its own database on ``--postgres`` (dropped at the end), migrates it and fills
it with bulk ``INSERT … SELECT generate_series`` statements (not the API): a category tree
(``--roots`` roots × 5 children × 4 grandchildren), ``--stores`` approved stores and a few pending
ones, ``--products`` active products of the approved stores (1–3 variants each, ~20 % of variants
out of stock, prices spread over 1–1,000 units) plus drafts and products of pending stores that
the listing must not show, and a store-wide discount for every fifth store.

For each scenario (no filter in each sort, a category with its descendants, a leaf category, a
store, a price range, in stock, all filters at once):

* **statements**: the SQL statements one request sends, counted in this process by the app's
  engine (``before_cursor_execute``) — the same app, the same database;
* **Oja**: ``GET /products?…`` through a real uvicorn process (``oja.main:create_app``);
* **raw SQL**: a bare FastAPI endpoint (one uvicorn process) that runs with asyncpg exactly the
  statements Oja sent for that scenario (captured above, same parameters) and answers the rows as
  JSON — the floor for the same query; the difference is Oja's ORM, pricing and serialisation.

The load comes from ``wrk`` (``apt-get install wrk``) with a Lua ``done`` hook for p50/p95/p99, at
1 connection (one request's latency) and at ``--connections``; rounds are interleaved (Oja, raw,
then raw, Oja…) and medians are shown. ``--explain`` prints EXPLAIN ANALYZE of each scenario's
page query.

    python -m bench.products [--products 100000] [--stores 50] [--duration 3] [--rounds 2]
                             [--connections 8] [--only newest,category] [--explain]
                             [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/products.py` puts bench/ first on sys.path, where bench/http.py would shadow the
# standard library's `http` package for everything imported later; put the repository root there.
if __name__ == "__main__":
    _bench_dir = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _bench_dir]
    sys.path.insert(0, str(_bench_dir.parent))

import argparse
import asyncio
import json
import os
import pickle
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Response

from bench.common import bench_env, machine_line, markdown_table, uvicorn_server
from bench.http import Result as WrkResult
from bench.http import asyncpg_app, load_average, postgres_reachable, scratch_database

SECRET = "bench-secret-key-that-is-long-enough-0123456789"
CHILDREN, GRANDCHILDREN = 5, 4

# The Lua hook prints what wrk's --latency table lacks (p95) on one parseable line.
WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


# --- the data -------------------------------------------------------------------------------------


@dataclass
class World:
    root_slug: str
    leaf_slug: str
    store_slug: str
    rows: dict[str, int]


async def fill(dsn: str, *, products: int, stores: int, roots: int) -> World:
    """Categories, stores, products and variants in a few bulk statements, then ANALYZE."""
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        categories: list[tuple[uuid.UUID, str, str, uuid.UUID | None, str]] = []
        leaves: list[uuid.UUID] = []
        for r in range(roots):
            root = uuid.uuid4()
            categories.append((root, f"Root {r}", f"root-{r}", None, f"/{root}/"))
            for c in range(CHILDREN):
                child = uuid.uuid4()
                path = f"/{root}/{child}/"
                categories.append((child, f"Child {r}.{c}", f"child-{r}-{c}", root, path))
                for g in range(GRANDCHILDREN):
                    leaf = uuid.uuid4()
                    slug = f"leaf-{r}-{c}-{g}"
                    categories.append((leaf, f"Leaf {r}.{c}.{g}", slug, child, f"{path}{leaf}/"))
                    leaves.append(leaf)
        await connection.executemany(
            "INSERT INTO category (id, name, slug, parent_id, path, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, now(), now())",
            categories,
        )
        pending = max(1, stores // 10)
        await connection.execute(
            """
            INSERT INTO vendor (id, name, slug, status, created_at, updated_at)
            SELECT gen_random_uuid(), 'Store ' || i, 'store-' || i,
                   CASE WHEN i <= $1::int THEN 'approved' ELSE 'pending' END, now(), now()
            FROM generate_series(1, $1::int + $2::int) AS i
            """,
            stores,
            pending,
        )
        approved = await connection.fetch(
            "SELECT id FROM vendor WHERE status = 'approved' ORDER BY slug"
        )
        hidden = await connection.fetch("SELECT id FROM vendor WHERE status = 'pending'")
        # Visible products; then drafts/archived of approved stores and active ones of pending
        # stores (5 % each), which the listing must skip.
        insert_products = """
            INSERT INTO product (id, title, description, category_id, attributes, status,
                                 created_at, updated_at, vendor_id)
            SELECT gen_random_uuid(), 'Product ' || $5::text || '-' || i, 'A product for the bench.',
                   ($1::uuid[])[1 + (i * 7919) % cardinality($1::uuid[])],
                   jsonb_build_object('material', 'cotton'), $4::text,
                   now() - make_interval(secs => i * 7), now(),
                   ($2::uuid[])[1 + i % cardinality($2::uuid[])]
            FROM generate_series(1, $3::int) AS i
        """
        vendor_ids = [row["id"] for row in approved]
        extra = max(1, products // 20)
        await connection.execute(insert_products, leaves, vendor_ids, products, "active", "a")
        await connection.execute(insert_products, leaves, vendor_ids, extra, "draft", "d")
        await connection.execute(insert_products, leaves, vendor_ids, extra, "archived", "x")
        hidden_ids = [row["id"] for row in hidden]
        await connection.execute(insert_products, leaves, hidden_ids, extra, "active", "p")
        # The variants' listing triggers recount each product (lock, then one UPDATE): for a
        # 230,000-row fill on this loaded machine that is many minutes of setup nobody measures.
        # They are off for the bulk insert, and the columns are then filled in one set-based
        # UPDATE computing what the triggers compute (tests/marketplace/test_listing_columns.py
        # holds the triggers to the same recount).
        await connection.execute("ALTER TABLE product_variant DISABLE TRIGGER USER")
        await connection.execute(
            """
            INSERT INTO product_variant (id, product_id, sku, options, price, currency,
                                         compare_at_price, stock, low_stock_threshold,
                                         weight_grams, created_at, updated_at, vendor_id)
            SELECT gen_random_uuid(), p.id, 'SKU-' || p.n || '-' || v,
                   jsonb_build_object('size', v), 100 + (abs(hashtext(p.id::text || v)) % 100000),
                   'NGN', NULL,
                   CASE WHEN abs(hashtext(p.id::text || v || 's')) % 5 = 0 THEN 0 ELSE 10 END,
                   5, 250, p.created_at, p.created_at, p.vendor_id
            FROM (SELECT id, vendor_id, created_at, row_number() OVER (ORDER BY id) AS n
                  FROM product) AS p
            CROSS JOIN LATERAL generate_series(1, 1 + (p.n % 3)::int) AS v
            """
        )
        await connection.execute("ALTER TABLE product_variant ENABLE TRIGGER USER")
        await connection.execute(
            """
            UPDATE product AS p SET min_price = s.low, max_price = s.high, stocked_variants = s.n
            FROM (SELECT product_id, min(price) AS low, max(price) AS high,
                         count(*) FILTER (WHERE stock > 0) AS n
                  FROM product_variant WHERE deleted_at IS NULL GROUP BY product_id) AS s
            WHERE p.id = s.product_id
            """
        )
        await connection.execute(
            """
            INSERT INTO discount (id, type, value, currency, scope, starts_at, used_count,
                                  stackable, created_at, updated_at, vendor_id)
            SELECT gen_random_uuid(), 'percentage', 10, 'NGN', 'store',
                   now() - interval '1 day', 0, false, now(), now(), id
            FROM (SELECT id, row_number() OVER (ORDER BY slug) AS n FROM vendor) AS v
            WHERE n % 5 = 0
            """
        )
        # The listing-column triggers rewrote each product row once per variant: VACUUM, as
        # autovacuum would, so the counts read the indexes alone (visibility map) as they would
        # in a settled database.
        await connection.execute("VACUUM ANALYZE")
        rows = {}
        for table in ("category", "vendor", "product", "product_variant", "discount"):
            rows[table] = int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
        return World("root-0", "leaf-0-0-0", "store-1", rows)
    finally:
        await connection.close()


def scenarios(world: World) -> dict[str, dict[str, str]]:
    """name → the query string of ``GET /products``."""
    return {
        "newest": {},
        "price_asc": {"sort": "price_asc"},
        "price_desc": {"sort": "price_desc"},
        "category (with descendants)": {"category": world.root_slug},
        "leaf category": {"category": world.leaf_slug},
        "store": {"vendor": world.store_slug},
        "price range": {"min_price": "20000", "max_price": "30000"},
        "in stock": {"in_stock": "true"},
        "all filters, price_asc": {
            "category": world.root_slug,
            "min_price": "10000",
            "max_price": "60000",
            "in_stock": "true",
            "sort": "price_asc",
        },
    }


# --- statements per request, captured in this process ---------------------------------------------


@dataclass
class Captured:
    statements: list[tuple[str, tuple[Any, ...]]]
    total: int
    items: int


async def capture(
    settings_env: dict[str, str], queries: dict[str, dict[str, str]]
) -> dict[str, Captured]:
    """Each scenario's request once through the app in this process, with every statement its
    engine sent (SQL text and parameters, as asyncpg received them)."""
    import httpx
    from sqlalchemy import event

    from oja.core.config import Settings
    from oja.main import create_app

    fields = {k.removeprefix("OJA_").lower(): v for k, v in settings_env.items() if k[:4] == "OJA_"}
    app = create_app(Settings(**fields))
    runtime = app.state.runtime
    sent: list[tuple[str, tuple[Any, ...]]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        sent.append((statement, tuple(parameters or ())))

    engine = runtime.database.engine.sync_engine
    out: dict[str, Captured] = {}
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for name, params in queries.items():
                await client.get("/products", params=params)  # warm: caches, compiled SQL
                sent.clear()
                event.listen(engine, "before_cursor_execute", record)
                try:
                    response = await client.get("/products", params=params)
                finally:
                    event.remove(engine, "before_cursor_execute", record)
                response.raise_for_status()
                body = response.json()
                out[name] = Captured(list(sent), int(body["total"]), len(body["items"]))
    finally:
        await runtime.close()
    return out


async def explain(dsn: str, captured: dict[str, Captured]) -> None:
    import asyncpg

    connection = await asyncpg.connect(dsn, server_settings={"jit": "off"})  # as Oja's sessions
    try:
        for name, found in captured.items():
            sql, params = found.statements[0]
            plan = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *params)
            print(f"\n### {name}: EXPLAIN ANALYZE of the page query")
            print("\n".join(row[0] for row in plan))
    finally:
        await connection.close()


# --- the raw baseline -----------------------------------------------------------------------------


def create_raw_app() -> FastAPI:
    """``GET /raw/{scenario}``: asyncpg runs the statements Oja sent for that scenario (from the
    pickle at ``BENCH_QUERIES``) on one pooled connection and answers the rows as JSON."""
    with Path(os.environ["BENCH_QUERIES"]).open("rb") as handle:
        queries: dict[str, list[tuple[str, tuple[Any, ...]]]] = pickle.load(handle)
    app, pool = asyncpg_app(os.environ["BENCH_DSN"])

    @app.get("/raw/{scenario}")
    async def raw(scenario: str) -> Response:
        results = []
        async with pool["pool"].acquire() as connection:
            for sql, params in queries[scenario]:
                results.append([dict(row) for row in await connection.fetch(sql, *params)])
        body = json.dumps(results, default=str)
        return Response(body, media_type="application/json")

    return app


# --- load -----------------------------------------------------------------------------------------


@dataclass
class Result(WrkResult):
    """wrk's figures with the p95 its Lua hook adds."""

    p95_ms: float


def run_wrk(url: str, connections: int, duration: float, script: Path) -> Result:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "30s"]
    argv += ["-s", str(script)]
    output = subprocess.run(
        [*argv, url], capture_output=True, text=True, check=True, timeout=duration + 60
    ).stdout
    line = next((ln for ln in output.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    requests, micros, p50, p95, p99, socket_errors, status_errors = map(int, line.split()[1:])
    if requests == 0:  # not one answer within the duration: no latency to report
        nan = float("nan")
        return Result(0.0, nan, nan, socket_errors + status_errors, p95_ms=nan)
    return Result(
        requests_per_s=requests / (micros / 1e6),
        p50_ms=p50 / 1000,
        p99_ms=p99 / 1000,
        errors=socket_errors + status_errors,
        p95_ms=p95 / 1000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--roots", type=int, default=10, help="root categories")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds")
    parser.add_argument("--connections", type=int, default=8, help="the concurrent level")
    parser.add_argument("--only", default="", help="comma-separated scenario name prefixes")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the page queries")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    print(machine_line())
    if not shutil.which("wrk"):
        print("skipped: wrk is required (apt-get install wrk)")
        return
    if not postgres_reachable(args.postgres):
        print(f"skipped: no PostgreSQL answers at {args.postgres} (pass --postgres URL)")
        return
    levels = sorted({1, args.connections})
    with (
        tempfile.TemporaryDirectory(prefix="oja-bench-products-") as tmp,
        scratch_database(args.postgres) as dsn,
    ):
        work = Path(tmp)
        began = time.perf_counter()
        world = asyncio.run(fill(dsn, products=args.products, stores=args.stores, roots=args.roots))
        print(
            f"filled in {time.perf_counter() - began:.1f} s: "
            + ", ".join(f"{n:,} {table}" for table, n in world.rows.items())
        )
        queries = scenarios(world)
        if args.only:
            wanted = [w.strip() for w in args.only.split(",")]
            queries = {k: v for k, v in queries.items() if any(k.startswith(w) for w in wanted)}
        oja_env = bench_env(
            OJA_VAR_DIR=str(work / "var"),
            OJA_DATABASE_URL=dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
            OJA_SECRET_KEY=SECRET,
            OJA_LOG_LEVEL="WARNING",
        )
        captured = asyncio.run(capture(oja_env, queries))
        if args.explain:
            asyncio.run(explain(dsn, captured))
        pickled = work / "queries.pickle"
        with pickled.open("wb") as handle:
            pickle.dump({str(i): c.statements for i, c in enumerate(captured.values())}, handle)
        script = work / "done.lua"
        script.write_text(WRK_SCRIPT)
        raw_env = bench_env(BENCH_DSN=dsn, BENCH_QUERIES=str(pickled))
        print(
            f"\nwrk, {args.rounds} interleaved rounds of {args.duration:g} s per server, scenario "
            f"and connection count ({args.warmup:g} s warm-up); load average {load_average()}"
        )
        results: dict[tuple[str, str, int], list[Result]] = {}
        with (
            # A loaded shared machine can take minutes to import and start the app.
            uvicorn_server(
                "oja.main:create_app", env=oja_env, log_path=work / "oja.log", start_timeout=300
            ) as oja,
            uvicorn_server(
                "bench.products:create_raw_app",
                env=raw_env,
                log_path=work / "raw.log",
                start_timeout=300,
            ) as raw,
        ):
            for index in range(args.rounds):
                for number, (name, params) in enumerate(queries.items()):
                    urls = [
                        ("Oja", f"{oja}/products?{urlencode(params)}"),
                        ("raw", f"{raw}/raw/{number}"),
                    ]
                    for connections in levels:
                        for server, url in urls if index % 2 == 0 else urls[::-1]:
                            if args.warmup > 0:
                                run_wrk(url, connections, args.warmup, script)
                            result = run_wrk(url, connections, args.duration, script)
                            results.setdefault((name, server, connections), []).append(result)
                print(f"round {index + 1} done; load average {load_average()}")

    rows = []
    for name, found in captured.items():
        for connections in levels:
            ours = results[name, "Oja", connections]
            bare = results[name, "raw", connections]
            rows.append(
                [
                    name,
                    f"{found.total:,}",
                    len(found.statements),
                    connections,
                    statistics.median(r.p50_ms for r in ours),
                    statistics.median(r.p95_ms for r in ours),
                    statistics.median(r.requests_per_s for r in ours),
                    statistics.median(r.p50_ms for r in bare),
                    statistics.median(r.p95_ms for r in bare),
                    statistics.median(r.requests_per_s for r in bare),
                    sum(r.errors for r in ours + bare),
                ]
            )
    print()
    headers = [
        "scenario",
        "total",
        "statements",
        "conn",
        "Oja p50 ms",
        "Oja p95 ms",
        "Oja req/s",
        "raw p50 ms",
        "raw p95 ms",
        "raw req/s",
        "errors",
    ]
    print(markdown_table(headers, rows))
    print(
        "\nMedians over the rounds. raw = the same statements (same SQL, same parameters) through "
        f"asyncpg behind a bare FastAPI endpoint. Load average at the end: {load_average()}"
    )


if __name__ == "__main__":
    main()
