"""Marketplace test helpers: people signed in through the API, stores opened and approved through
it, rows counted straight from the database."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select, text

from oja.core.db import unit_of_work
from oja.identity import service as identity_service
from oja.identity.config import get_identity_settings
from oja.identity.passwords import get_passwords

PASSWORD = "correct horse battery"
_emails = itertools.count()


@dataclass
class Person:
    id: str
    email: str
    headers: dict[str, str]


async def _login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def person(client: httpx.AsyncClient, prefix: str = "buyer") -> Person:
    email = f"{prefix}{next(_emails)}-{uuid.uuid4().hex[:6]}@example.com"
    created = await client.post("/auth/signup", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    return Person(created.json()["id"], email, await _login(client, email))


async def admin(app: Any, client: httpx.AsyncClient) -> Person:
    email = f"admin{next(_emails)}-{uuid.uuid4().hex[:6]}@example.com"
    async with unit_of_work(app.state.runtime.database) as db:
        user = await identity_service.create_admin(
            db, email=email, password=PASSWORD, passwords=get_passwords(get_identity_settings())
        )
    return Person(str(user.id), email, await _login(client, email))


async def open_store(
    client: httpx.AsyncClient, owner: Person, name: str = "Mama Put Foods", **body: Any
) -> dict[str, Any]:
    response = await client.post("/vendors", json={"name": name, **body}, headers=owner.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def approved_store(
    client: httpx.AsyncClient, owner: Person, boss: Person, name: str = "Mama Put Foods"
) -> dict[str, Any]:
    store = await open_store(client, owner, name)
    response = await client.post(f"/admin/vendors/{store['id']}/approve", headers=boss.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def count(app: Any, table: str, where: str = "") -> int:
    async with app.state.runtime.database.engine.connect() as conn:
        query = select(func.count()).select_from(text(f'"{table}"'))
        if where:
            query = query.where(text(where))
        return int((await conn.execute(query)).scalar_one())


async def rows(app: Any, sql: str, **params: Any) -> list[Any]:
    async with app.state.runtime.database.engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def someone_waits_for_a_lock(app: Any, failure: str) -> None:
    """Return once a session of the test database waits for a lock (PostgreSQL; polled, no time
    limit but the attempts); ``failure`` is the assertion raised should none ever wait."""
    waiting = (
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    for _ in range(10_000):
        if (await rows(app, waiting))[0][0] > 0:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(failure)


def error_code(response: httpx.Response) -> str | None:
    body = response.json() if response.content else {}
    return body.get("error", {}).get("code") if isinstance(body, dict) else None
