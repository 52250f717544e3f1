"""Helpers for identity tests: sign up and log in through the API, read rows directly."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.sql import Executable

from oja.core.db import unit_of_work
from oja.identity import service
from oja.identity.config import get_identity_settings
from oja.identity.passwords import get_passwords
from oja.identity.schemas import UserOut

PASSWORD = "correct horse battery"
_counter = itertools.count()


def unique_email() -> str:
    return f"user{next(_counter)}@example.com"


async def signup(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    body.setdefault("password", PASSWORD)
    if "email" not in body and "mobile" not in body:
        body["email"] = unique_email()
    response = await client.post("/auth/signup", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def login(
    client: httpx.AsyncClient, password: str = PASSWORD, **identifier: str
) -> dict[str, Any]:
    response = await client.post("/auth/login", json={**identifier, "password": password})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def user_with_token(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any]]:
    user = await signup(client)
    return user, await login(client, email=user["email"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def count_rows(app: Any, table: str) -> int:
    async with app.state.runtime.database.engine.connect() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(text(f'"{table}"')))).scalar_one()
        )


async def execute(app: Any, statement: Executable) -> Any:
    """Run a Core statement in its own transaction (test set-up that the API cannot do)."""
    async with app.state.runtime.database.engine.begin() as conn:
        result = await conn.execute(statement)
        return result.all() if result.returns_rows else None


async def make_admin(app: Any, email: str) -> dict[str, Any]:
    async with unit_of_work(app.state.runtime.database) as db:
        user = await service.create_admin(
            db, email=email, password=PASSWORD, passwords=get_passwords(get_identity_settings())
        )
    return UserOut.of(user.user, user.roles).model_dump(mode="json")


def client_from(app: Any, ip: str) -> httpx.AsyncClient:
    """A client whose requests come from ``ip`` (the throttle keys on the client address)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")
