"""The public product page and listing read everything they show in one statement on PostgreSQL
(the product or page with its images, live variants and its stores' live discounts, issue 25);
SQLite reads the variants and the discounts in a statement each. The answers are the same either
way (``test_catalog_reads`` compares them with the ORM path)."""

from __future__ import annotations

from typing import Any

import httpx

from .scoping import statement_log
from .test_catalog_reads import _as_before, _seed


async def test_product_page_and_listing_statements(app: Any, client: httpx.AsyncClient) -> None:
    ids = await _seed(app, client)
    expected = {pid: await _as_before(app, pid) for pid in ids}
    engine = app.state.runtime.database.engine
    postgres = engine.dialect.name == "postgresql"
    for pid in ids:
        with statement_log(engine) as log, log.on():
            shown = await client.get(f"/products/{pid}")
        assert shown.status_code == 200, shown.text
        assert shown.json() == expected[pid]
        assert len(log.statements) == (1 if postgres else 3), log.statements
    for query in ("", "sort=price_asc&page=2&per_page=2", "min_price=1000&max_price=2000"):
        with statement_log(engine) as log, log.on():
            listed = await client.get(f"/products?{query}")
        assert listed.status_code == 200, listed.text
        items = listed.json()["items"]
        assert items, query
        assert items == [expected[item["id"]] for item in items], query
        assert len(log.statements) == (1 if postgres else 3), (query, log.statements)


async def test_an_empty_page_past_the_end_still_counts(app: Any, client: httpx.AsyncClient) -> None:
    await _seed(app, client)
    response = await client.get("/products?page=9&per_page=2")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["items"], body["total"], body["page"], body["pages"]) == ([], 5, 9, 3)
