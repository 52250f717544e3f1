"""The SQL a hot authenticated read sends, counted exactly on every backend.

The session check is one SELECT joining the session, its user and the user's roles, run outside a
transaction; a route adds only the reads it needs. A new statement on these routes — a pre-ping, a
second look-up of the caller, a roles query — fails here before it costs every request a round trip.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import event

from oja.core.db import is_sqlite, unit_of_work
from oja.files.models import File
from tests.chat.conftest import auth, new_user


@contextmanager
def statements(app: Any) -> Iterator[list[str]]:
    """Every SQL statement the app's engine sends while the block runs, first keyword upper-cased
    and the table it reads (enough to tell which query it is)."""
    sent: list[str] = []
    engine = app.state.runtime.database.engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def kinds(sent: list[str]) -> list[str]:
    """``SELECT <first table>`` per statement."""
    out = []
    for statement in sent:
        words = statement.split()
        table = words[words.index("FROM") + 1].strip('"') if "FROM" in words else ""
        out.append(f"{words[0].upper()} {table}".strip())
    return out


async def test_user_me_is_one_select(client: httpx.AsyncClient, app: Any) -> None:
    user = await new_user(client)
    with statements(app) as sent:
        response = await client.get("/user/me", headers=auth(user))
    assert response.status_code == 200
    assert response.json()["roles"] == ["buyer"]
    assert kinds(sent) == ["SELECT user"]


async def test_file_detail_is_the_check_and_two_reads(client: httpx.AsyncClient, app: Any) -> None:
    user = await new_user(client)
    async with unit_of_work(app.state.runtime.database) as session:
        file = File(
            owner_id=uuid.UUID(user["id"]),
            original_filename="a.txt",
            storage_key="k/a.txt",
            content_type="text/plain",
            size=1,
            sha256="0" * 64,
        )
        session.add(file)
    with statements(app) as sent:
        response = await client.get(f"/files/{file.id}", headers=auth(user))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == str(file.id)
    assert kinds(sent) == ["SELECT user", "SELECT file", "SELECT job"]


async def test_chatroom_list_is_the_check_and_then_the_cache(
    client: httpx.AsyncClient, app: Any
) -> None:
    user = await new_user(client)
    created = await client.post("/chatroom", json={"title": "Lagos"}, headers=auth(user))
    assert created.status_code == 201
    with statements(app) as miss:
        first = await client.get("/chatroom", headers=auth(user))
    with statements(app) as hit:
        second = await client.get("/chatroom", headers=auth(user))
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("miss", "hit")
    assert first.json() == second.json()
    assert first.json()["total"] == 1
    assert kinds(miss) == ["SELECT user", "SELECT chatroom"]
    assert kinds(hit) == ["SELECT user"]


async def test_product_listing_is_one_select_or_three_whatever_the_filters(
    client: httpx.AsyncClient, app: Any
) -> None:
    """The public listing: the page with its total and its images (one statement, whose first
    FROM is the images' subquery) and, on PostgreSQL, its variants and its stores' live discounts
    as JSON columns of the same statement (SQLite: one statement each) — with every filter and
    each sort, never one per product. A category filter takes the subtree's path from the cached
    category tree: the first listing after a category change reads the tree (one more statement,
    then cached), every later one sends the page's."""
    from tests.marketplace.conftest import admin, approved_store, person

    boss = await admin(app, client)
    root = (await client.post("/categories", json={"name": "Food"}, headers=boss.headers)).json()
    owner = await person(client)
    await approved_store(client, owner, boss, "One")
    for title, price in (("Rice", 5000), ("Beans", 3000), ("Garri", 1000)):
        body = {"title": title, "sku": title, "price": price, "stock": 2, "status": "active"}
        created = await client.post(
            "/products", json={**body, "category_id": root["id"]}, headers=owner.headers
        )
        assert created.status_code == 201, created.text
    queries = [
        "",
        "sort=price_asc",
        "sort=price_desc&per_page=2&page=2",
        "category=food&vendor=one&min_price=1000&max_price=6000&in_stock=true&sort=price_asc",
    ]
    page = ["SELECT product_image"]
    if is_sqlite(app.state.runtime.database.url):
        page += ["SELECT product_variant", "SELECT discount"]
    with statements(app) as sent:
        response = await client.get("/products?category=food")
    assert response.json()["total"] == 3
    assert kinds(sent) == ["SELECT category", *page]
    for query in queries:
        with statements(app) as sent:
            response = await client.get(f"/products?{query}")
        assert response.status_code == 200, response.text
        assert response.json()["total"] == 3
        assert kinds(sent) == page


async def _terminate_others(database_url: str) -> list[int]:
    """Cut every other connection to this database, as a restarted server or an idle-timeout proxy
    would; return once PostgreSQL no longer lists them."""
    connection = await asyncpg.connect(
        database_url.replace("postgresql+asyncpg://", "postgresql://")
    )
    try:
        others = "datname = current_database() AND pid <> pg_backend_pid()"
        cut = await connection.fetch(
            f"SELECT pg_terminate_backend(pid), pid FROM pg_stat_activity WHERE {others}"
        )
        for _ in range(500):  # bounded: termination is asynchronous
            if not await connection.fetchval(
                f"SELECT count(*) FROM pg_stat_activity WHERE {others}"
            ):
                break
            await connection.execute("SELECT pg_sleep(0.01)")
        return [row["pid"] for row in cut]
    finally:
        await connection.close()


@pytest.mark.postgres
async def test_a_dropped_connection_is_one_503_then_the_pool_recovers(
    client: httpx.AsyncClient, app: Any, database_url: str
) -> None:
    """No pre-ping: the request that draws a connection the server dropped answers 503 (retrying
    it is the client's call, as for any outage) and SQLAlchemy invalidates every connection made
    before the failure, so the next request reconnects and succeeds; nothing is retried inside."""
    if not database_url.startswith("postgresql"):
        return  # SQLite has no server to drop a connection
    user = await new_user(client)
    assert (await client.get("/user/me", headers=auth(user))).status_code == 200
    assert await _terminate_others(database_url)
    with statements(app) as sent:
        dropped = await client.get("/user/me", headers=auth(user))
    assert dropped.status_code == 503
    assert dropped.json()["error"]["code"] == "service_unavailable"
    assert kinds(sent) == ["SELECT user"]  # tried once, not again
    recovered = await client.get("/user/me", headers=auth(user))
    assert recovered.status_code == 200
    assert recovered.json()["id"] == user["id"]
