"""Issue 25: what the shopping day's search by category and unfiltered listing read on PostgreSQL.

Each plan is asked over 2,000 bare rows inserted (and analysed) in a transaction rolled back at the
end, with the foreign-key and listing triggers off (``session_replication_role = replica``), and
with sequential and bitmap scans priced out, so that it shows what the indexes serve: the category
search's matched rows come from the covering category index alone (an index-only scan, possible
only while it covers every column the statement reads of them; no heap:
``ix_search_document_category_id``, c25s00000001), the attribute facet probes the primary key of
``search_attribute`` per counted row (no hash of every pair), and the listing's total counts
``ix_product_listed``."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql

from oja.marketplace.catalog import repository as catalog
from oja.marketplace.search import repository as search
from oja.marketplace.search.schemas import SearchFilters, SearchSort

POSTGRES = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
EDGES = [1_000, 5_000, 10_000, 50_000, 100_000]


def _literal_sql(statement: Any) -> str:
    return str(
        statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    )


VENDORS = (
    "INSERT INTO vendor (id, name, slug, status, created_at, updated_at) SELECT "
    "('00000000-0000-0000-0001-' || lpad(i::text, 12, '0'))::uuid, 's' || i, 's' || i, "
    "'approved', now(), now() FROM generate_series(0, 44) AS i"
)
ROWS = {
    "product": (
        "INSERT INTO product (id, vendor_id, title, attributes, status, listed, created_at, "
        "updated_at) SELECT gen_random_uuid(), gen_random_uuid(), 't' || i, '{}', 'active', "
        "i % 10 > 0, now() - i * interval '1 minute', now() FROM generate_series(1, 2000) AS i"
    ),
    "search_document": (
        "INSERT INTO search_document (product_id, vendor_id, category_id, title, words, price, "
        "currency, sales, created_at) SELECT gen_random_uuid(), "
        "('00000000-0000-0000-0001-' || lpad((i % 45)::text, 12, '0'))::uuid, "
        "('00000000-0000-0000-0000-' || lpad((i % 40)::text, 12, '0'))::uuid, "
        "'t' || i, 'word' || i, i * 100, 'NGN', 0, now() FROM generate_series(1, 2000) AS i"
    ),
}


async def _plan(app: Any, sql: str, table: str, *settings: str) -> str:
    async with app.state.runtime.database.engine.connect() as conn:
        await conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        await conn.exec_driver_sql(VENDORS)
        await conn.exec_driver_sql(ROWS[table])
        await conn.exec_driver_sql(f"ANALYZE vendor, {table}")
        for setting in settings:
            await conn.exec_driver_sql(f"SET LOCAL {setting}")
        plan = "\n".join(
            str(line) for (line,) in (await conn.exec_driver_sql(f"EXPLAIN {sql}")).all()
        )
        await conn.rollback()
    return plan


@POSTGRES
@pytest.mark.parametrize("sort", [SearchSort.price_asc, SearchSort.rating, SearchSort.newest])
async def test_a_search_by_category_reads_the_category_index_and_probes_the_pairs(
    app: Any, sort: SearchSort
) -> None:
    filters = SearchFilters(sort=sort)
    categories = [uuid.UUID(int=1), uuid.UUID(int=2)]
    stmt, rank = search.base(filters, categories=categories, vendor=None, engine=None, query=None)  # type: ignore[arg-type]
    query = search.page_and_facets_query(
        stmt, sort, rank, offset=0, limit=20, edges=EDGES, sample=2_000, dialect="postgresql"
    )
    plan = await _plan(
        app,
        _literal_sql(query),
        "search_document",
        "enable_seqscan = off",
        "enable_bitmapscan = off",
    )
    scans = re.findall(
        r"(Index Only Scan|Index Scan|Seq Scan)(?: using (\w+))? on search_document", plan
    )
    assert scans == [("Index Only Scan", "ix_search_document_category_id")], plan
    probe = re.search(
        r"Index Only Scan using pk_search_attribute on search_attribute.*\n"
        r"\s+Index Cond: \(product_id = counted(?:_\d+)?\.product_id\)",
        plan,
    )
    assert probe is not None, plan
    assert "sales" not in _literal_sql(query).split("counted AS")[0], "sales read for no sort"


@POSTGRES
async def test_the_unfiltered_listing_counts_the_one_value_index(app: Any) -> None:
    query, _ = catalog._listing_query(
        "postgresql",
        category=None,
        vendor=None,
        in_stock=None,
        min_price=False,
        max_price=False,
        price=False,
        descending=True,
    )
    now = datetime(2026, 12, 7, tzinfo=UTC)
    sql = _literal_sql(query.params(offset=280, limit=20, now=now))
    plan = await _plan(app, sql, "product", "enable_seqscan = off", "enable_bitmapscan = off")
    count = plan.split("InitPlan", 1)[1].split("->  Index Only Scan Backward", 1)[0]
    assert "Index Only Scan using ix_product_listed on product" in count, plan
