"""Search at 100,000 generated products: PostgreSQL (tsvector + pg_trgm) and SQLite FTS5.

Each query is ``q`` + 2 filters (category with descendants, max_price) + every facet, through the
search service in-process (no HTTP): cold (no answer cache) and cached (the answer cache, after one
miss per distinct query). Beside it, in the same run, the bare SQL of the same query: the page and
total statements the service runs, compiled once and sent as text (the baseline: what the database
alone costs for the hit list, without facets, ORM or serialisation). On PostgreSQL both are
measured twice, interleaved: matching and ranking the stored ``words_tsv`` column (after), and the
vector computed from ``words`` for every row through an expression index (before). The load
average is printed at the start and the end (the machine is shared).

    OJA_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python -m bench.search
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text

from bench.common import markdown_table, percentile
from oja.core.cache import MemoryCache
from oja.core.db import Database, unit_of_work
from oja.core.migrate import upgrade
from oja.core.pagination import PageParams
from oja.marketplace.catalog.models import Category, Product
from oja.marketplace.search import repository, service
from oja.marketplace.search.config import SearchSettings
from oja.marketplace.search.engines import (
    PostgresEngine,
    SearchEngine,
    engine_for,
    parse,
    words_of,
)
from oja.marketplace.search.models import SearchAttribute, SearchDocument, SearchTerm
from oja.marketplace.search.schemas import SearchFilters, SearchSort
from oja.marketplace.vendors.models import Vendor

PRODUCTS = int(os.environ.get("OJA_BENCH_SEARCH_PRODUCTS", "100000"))
QUERIES = 100
SQLITE = os.environ.get("OJA_BENCH_SEARCH_SQLITE", "1") != "0"
"""``OJA_BENCH_SEARCH_SQLITE=0`` skips the SQLite half."""
BEFORE = os.environ.get("OJA_BENCH_SEARCH_BEFORE", "1") != "0"
"""``OJA_BENCH_SEARCH_BEFORE=0`` skips PostgreSQL's "tsvector from words" variant (and building
its expression index: minutes at 1,000,000 products)."""
BEFORE_INDEX = (
    "CREATE INDEX IF NOT EXISTS bench_search_document_words_expr ON search_document "
    "USING gin (to_tsvector('simple', words))"
)
BRANDS = ["samsung", "tecno", "infinix", "nokia", "oraimo", "hisense", "binatone", "itel", "lg"]
NOUNS = [
    "phone",
    "charger",
    "earbuds",
    "blender",
    "kettle",
    "shirt",
    "sandals",
    "bag",
    "pot",
    "spoon",
    "scarf",
    "cream",
    "television",
    "fan",
    "radio",
    "speaker",
    "cable",
    "watch",
]
ADJ = ["red", "blue", "black", "steel", "cotton", "leather", "wooden", "smart", "mini", "pro"]
COLOURS = ["red", "blue", "green", "black", "white"]


async def generate(db_url: str) -> list[str]:
    database = Database(db_url)
    rng = random.Random(22)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    async with unit_of_work(database) as db:
        vendors = [
            {
                "id": uuid.uuid4(),
                "name": f"Store {i}",
                "slug": f"store-{i}",
                "status": "approved",
                "created_at": now,
                "updated_at": now,
            }
            for i in range(50)
        ]
        await db.execute(insert(Vendor), vendors)
        cats: list[dict[str, Any]] = []
        for r in range(4):
            root = uuid.uuid4()
            cats.append(
                {
                    "id": root,
                    "name": f"Root {r}",
                    "slug": f"root-{r}",
                    "parent_id": None,
                    "path": f"/{root}/",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            for c in range(5):
                cid = uuid.uuid4()
                cats.append(
                    {
                        "id": cid,
                        "name": f"Sub {r}-{c}",
                        "slug": f"sub-{r}-{c}",
                        "parent_id": root,
                        "path": f"/{root}/{cid}/",
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        await db.execute(insert(Category), cats)
    terms: set[str] = set()
    for start in range(0, PRODUCTS, 5000):
        products, docs, attrs = [], [], []
        for i in range(start, min(start + 5000, PRODUCTS)):
            pid = uuid.uuid4()
            vendor = vendors[i % len(vendors)]
            cat = cats[rng.randrange(len(cats))]
            title = f"{rng.choice(BRANDS)} {rng.choice(ADJ)} {rng.choice(NOUNS)} {i}"
            colour = rng.choice(COLOURS)
            created = now - timedelta(minutes=i)
            products.append(
                {
                    "id": pid,
                    "vendor_id": vendor["id"],
                    "title": title,
                    "description": "generated",
                    "category_id": cat["id"],
                    "attributes": {"colour": colour},
                    "status": "active",
                    "created_at": created,
                    "updated_at": created,
                }
            )
            words = words_of(f"{title} generated {cat['name']} {vendor['name']} {colour}")
            terms.update(words)
            docs.append(
                {
                    "product_id": pid,
                    "vendor_id": vendor["id"],
                    "category_id": cat["id"],
                    "title": title,
                    "words": " ".join(words),
                    "price": rng.randrange(100, 500_000),
                    "currency": "NGN",
                    "rating": None,
                    "sales": 0,
                    "created_at": created,
                }
            )
            attrs.append({"product_id": pid, "name": "colour", "value": colour})
        async with unit_of_work(database) as db:
            await db.execute(insert(Product), products)
            await db.execute(insert(SearchDocument), docs)
            await db.execute(insert(SearchAttribute), attrs)
    async with unit_of_work(database) as db:
        await db.execute(insert(SearchTerm), [{"term": t} for t in sorted(terms)])
        await repository.analyze(db)
        if db.get_bind().dialect.name == "postgresql":
            await db.execute(text("ANALYZE vendor, category, product"))
    await database.engine.dispose()
    return [c["slug"] for c in cats if c["parent_id"] is None]


def workload(roots: list[str]) -> list[SearchFilters]:
    rng = random.Random(7)
    out = []
    for _ in range(QUERIES):
        q = rng.choice(
            [
                rng.choice(BRANDS),
                rng.choice(NOUNS),
                f"{rng.choice(BRANDS)} {rng.choice(NOUNS)[:3]}",
                "samsnug",
            ]
        )
        out.append(
            SearchFilters(
                q=q,
                category=rng.choice(roots),
                max_price=rng.choice([50_000, 200_000]),
                sort=SearchSort.relevance,
            )
        )
    return out


def variants(dialect: str) -> list[tuple[str, SearchEngine]]:
    """PostgreSQL: the stored ``words_tsv`` (after) beside the vector computed from ``words`` per
    row through an expression index (before, as the index was until revision c22t00000001),
    interleaved query by query so the machine's load falls on both alike."""
    if dialect != "postgresql":
        return [("", engine_for(dialect))]
    if not BEFORE:
        return [(", stored tsvector", PostgresEngine())]
    return [
        (", tsvector from words (before)", PostgresEngine(stored=False)),
        (", stored tsvector (after)", PostgresEngine()),
    ]


async def prepare(db_url: str) -> None:
    """PostgreSQL: add the "before" index (the migration replaced it by the stored column's),
    then VACUUM so both GIN indexes are compact (the stored column's was filled row by row, its
    entries still in the pending list a production autovacuum would have merged)."""
    if not db_url.startswith("postgresql"):
        return
    database = Database(db_url)
    async with database.engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        if BEFORE:
            await auto.exec_driver_sql(BEFORE_INDEX)
        await auto.exec_driver_sql("VACUUM ANALYZE search_document")
    await database.engine.dispose()


async def measure(db_url: str, roots: list[str]) -> list[list[object]]:
    await prepare(db_url)
    database = Database(db_url)
    params = PageParams(page=1, per_page=20)
    cold_settings = SearchSettings(search_cache_ttl=0)
    warm_settings = SearchSettings(search_cache_ttl=300)
    cache = MemoryCache()
    queries = workload(roots)
    warm: list[float] = []
    async with unit_of_work(database) as db:
        dialect = db.get_bind().dialect
        kinds = variants(dialect.name)
        cold: dict[str, list[float]] = {label: [] for label, _ in kinds}
        bare: dict[str, list[float]] = {label: [] for label, _ in kinds}
        for f in queries[:10]:  # warm the buffers
            for _, engine in kinds:
                await service.search(db, cache, cold_settings, f, params, engine=engine)
        for i, f in enumerate(queries):
            for label, engine in kinds if i % 2 else kinds[::-1]:  # neither always first
                t = time.perf_counter()
                await service.search(db, cache, cold_settings, f, params, engine=engine)
                cold[label].append((time.perf_counter() - t) * 1000)
                # The bare SQL of the same page and total, compiled with the values inlined.
                under = await repository.categories_under(db, None, f.category or "")
                query = await parse(db, engine, f.q or "", cold_settings.search_typo_similarity)
                stmt, rank = repository.base(
                    f, categories=under, vendor=None, engine=engine, query=query
                )
                page_sql = stmt.order_by(*repository.order(f.sort, rank)).limit(20)
                counted = stmt.with_only_columns(repository.func.count()).order_by(None)
                sqls = [
                    str(s.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
                    for s in (page_sql, counted)
                ]
                t = time.perf_counter()
                for sql in sqls:
                    (await db.execute(text(sql))).all()
                bare[label].append((time.perf_counter() - t) * 1000)
        popular = queries[:20]
        for f in popular:  # one miss each
            await service.search(db, cache, warm_settings, f, params)
        for i in range(QUERIES):
            t = time.perf_counter()
            await service.search(db, cache, warm_settings, popular[i % 20], params)
            warm.append((time.perf_counter() - t) * 1000)
    await database.engine.dispose()
    name = "PostgreSQL" if db_url.startswith("postgresql") else "SQLite FTS5"
    rows: list[list[object]] = []
    measured: list[tuple[str, list[float]]] = []
    for label, _ in kinds:
        measured.append((f"bare SQL (page + total){label}", bare[label]))
        measured.append((f"Oja cold (page+total+facets){label}", cold[label]))
    measured.append(("Oja cached", warm))
    for label, values in measured:
        rows.append([name, label, f"{percentile(values, 50):.1f}", f"{percentile(values, 95):.1f}"])
    rows.append(
        [
            name,
            "cache hit ratio",
            f"{service.stats.hits}/{service.stats.hits + service.stats.misses}",
            "",
        ]
    )
    return rows


async def postgres_url() -> str | None:
    base = os.environ.get("OJA_BENCH_POSTGRES_URL")
    if not base:
        return None
    import asyncpg

    conn = await asyncpg.connect(base)
    await conn.execute("DROP DATABASE IF EXISTS oja_bench_search")
    await conn.execute("CREATE DATABASE oja_bench_search")
    await conn.close()
    return (
        base.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        + "/oja_bench_search"
    )


async def drop_postgres() -> None:
    """The generated database goes once measured (at 1,000,000 products it is gigabytes)."""
    base = os.environ.get("OJA_BENCH_POSTGRES_URL")
    if base:
        import asyncpg

        conn = await asyncpg.connect(base)
        await conn.execute("DROP DATABASE IF EXISTS oja_bench_search")
        await conn.close()


def main() -> None:
    rows: list[list[object]] = []
    pg = asyncio.run(postgres_url())
    urls = [u for u in (pg,) if u]
    tmp = tempfile.TemporaryDirectory()
    if SQLITE:
        urls.append(f"sqlite+aiosqlite:///{tmp.name}/search.db")
    print(f"load average at start: {os.getloadavg()}", flush=True)
    for url in urls:
        upgrade(url)
        t = time.perf_counter()
        roots = asyncio.run(generate(url))
        print(
            f"{url.split('://')[0]}: generated {PRODUCTS} products in {time.perf_counter() - t:.0f} s",
            flush=True,
        )
        service.stats.hits = service.stats.misses = 0
        rows.extend(asyncio.run(measure(url, roots)))
    tmp.cleanup()
    asyncio.run(drop_postgres())
    print(f"load average at end: {os.getloadavg()}", flush=True)
    print(markdown_table(["engine", "what", "p50 ms", "p95 ms"], rows))


if __name__ == "__main__":
    main()
