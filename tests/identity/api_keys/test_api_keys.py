"""API keys: creation shown once, hashing at rest, listing, revocation, expiry, rotation, ownership."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from oja.core.clock import utcnow
from oja.identity.api_keys.models import ApiKey
from tests.identity.conftest import bearer, count_rows, execute, user_with_token

_table = ApiKey.__table__


async def create_key(client: httpx.AsyncClient, token: str, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "ci job")
    body.setdefault("scopes", ["examples:read", "files:read"])
    response = await client.post("/keys/create", json=body, headers=bearer(token))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_create_shows_the_key_once_and_stores_only_its_hash(
    client: httpx.AsyncClient, app: Any
) -> None:
    _, pair = await user_with_token(client)
    before = utcnow()
    created = await create_key(
        client,
        pair["access_token"],
        scopes=["files:read", "examples:read", "files:read"],
        expires_in_days=30,
    )
    key = created["key"]
    assert key.startswith("oja_sk_")
    assert len(key) >= len("oja_sk_") + 43  # 32 random bytes, urlsafe base64
    assert created["prefix"] == key[:15]
    assert created["scopes"] == ["examples:read", "files:read"]
    assert created["status"] == "active"
    expires = datetime.fromisoformat(created["expires_at"])
    assert timedelta(days=30) <= expires - before <= timedelta(days=30, seconds=5)

    rows = await execute(app, select(_table))
    assert len(rows) == 1
    assert rows[0].key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(tuple(rows[0]))

    listed = await client.get("/keys", headers=bearer(pair["access_token"]))
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [i["id"] for i in items] == [created["id"]]
    assert "key" not in items[0]
    assert key not in listed.text
    assert set(items[0]) == {
        "id",
        "name",
        "prefix",
        "scopes",
        "status",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "replaced_by_id",
    }

    used = await client.get("/examples/service-only", headers={"X-API-Key": key})
    assert used.status_code == 200
    assert used.json()["api_key_id"] == created["id"]
    listed = await client.get("/keys", headers=bearer(pair["access_token"]))
    assert listed.json()["items"][0]["last_used_at"] is not None


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": ["files:read", "root"]},
        {"name": "x", "scopes": []},
        {"name": "", "scopes": ["files:read"]},
        {"name": "x", "scopes": ["files:read"], "expires_in_days": 0},
        {
            "name": "x",
            "scopes": ["files:read"],
            "expires_in_days": 1,
            "expires_at": "2030-01-01T00:00:00Z",
        },
        {"name": "x", "scopes": ["files:read"], "expires_at": "2030-01-01T00:00:00"},
        {"name": "x", "scopes": ["files:read"], "expires_at": 1900000000},
        {"name": "x", "scopes": ["files:read"], "expires_at": 1900000000.5},
    ],
)
async def test_invalid_key_requests_are_422_and_create_nothing(
    client: httpx.AsyncClient, app: Any, body: dict[str, Any]
) -> None:
    _, pair = await user_with_token(client)
    response = await client.post("/keys/create", json=body, headers=bearer(pair["access_token"]))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert await count_rows(app, "api_key") == 0


async def test_expiry_in_the_past_is_refused(client: httpx.AsyncClient, app: Any) -> None:
    _, pair = await user_with_token(client)
    response = await client.post(
        "/keys/create",
        json={"name": "x", "scopes": ["query"], "expires_at": "2001-01-01T00:00:00Z"},
        headers=bearer(pair["access_token"]),
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_expiry"
    assert await count_rows(app, "api_key") == 0


async def test_revoked_key_is_refused_on_the_next_request(client: httpx.AsyncClient) -> None:
    _, pair = await user_with_token(client)
    created = await create_key(client, pair["access_token"])
    headers = bearer(created["key"])  # a key also works as a bearer credential
    assert (await client.get("/examples/either", headers=headers)).status_code == 200
    revoked = await client.post(
        f"/keys/{created['id']}/revoke", headers=bearer(pair["access_token"])
    )
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    refused = await client.get("/examples/either", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "api_key_revoked"
    assert refused.headers["www-authenticate"] == "Bearer"
    again = await client.post(f"/keys/{created['id']}/revoke", headers=bearer(pair["access_token"]))
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]


async def test_expired_key_is_refused(client: httpx.AsyncClient, app: Any) -> None:
    _, pair = await user_with_token(client)
    created = await create_key(client, pair["access_token"])
    await execute(
        app,
        update(_table)
        .where(_table.c.prefix == created["prefix"])
        .values(expires_at=utcnow() - timedelta(seconds=1)),
    )
    refused = await client.get("/examples/either", headers={"X-API-Key": created["key"]})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "api_key_expired"
    listed = await client.get("/keys", headers=bearer(pair["access_token"]))
    assert listed.json()["items"][0]["status"] == "expired"


async def test_unknown_key_is_refused(client: httpx.AsyncClient) -> None:
    for key in ("oja_sk_" + "A" * 43, "sk_live_something", "oja_sk_" + "x" * 500):
        refused = await client.get("/examples/either", headers={"X-API-Key": key})
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "invalid_api_key"


async def test_rotation_keeps_the_old_key_for_the_overlap(
    client: httpx.AsyncClient, app: Any
) -> None:
    _, pair = await user_with_token(client)
    old = await create_key(client, pair["access_token"], expires_in_days=10)
    before = utcnow()
    rotated = await client.post(f"/keys/{old['id']}/rotate", headers=bearer(pair["access_token"]))
    assert rotated.status_code == 201
    new = rotated.json()
    assert new["key"] != old["key"]
    assert new["scopes"] == old["scopes"]
    assert new["name"] == old["name"]
    new_expiry = datetime.fromisoformat(new["expires_at"])
    assert (
        timedelta(days=10) - timedelta(seconds=5)
        <= new_expiry - before
        <= timedelta(days=10, seconds=5)
    )

    for key in (old["key"], new["key"]):
        assert (
            await client.get("/examples/service-only", headers={"X-API-Key": key})
        ).status_code == 200
    listed = {
        k["id"]: k
        for k in (await client.get("/keys", headers=bearer(pair["access_token"]))).json()["items"]
    }
    old_expiry = datetime.fromisoformat(listed[old["id"]]["expires_at"])
    assert (
        timedelta(hours=24) - timedelta(seconds=5)
        <= old_expiry - before
        <= timedelta(hours=24, seconds=5)
    )
    assert listed[old["id"]]["replaced_by_id"] == new["id"]

    twice = await client.post(f"/keys/{old['id']}/rotate", headers=bearer(pair["access_token"]))
    assert twice.status_code == 409
    assert await count_rows(app, "api_key") == 2

    # The overlap ends: the old key dies, the new one lives on.
    await execute(
        app,
        update(_table)
        .where(_table.c.prefix == old["prefix"])
        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)),
    )
    dead = await client.get("/examples/service-only", headers={"X-API-Key": old["key"]})
    assert dead.json()["error"]["code"] == "api_key_expired"
    assert (
        await client.get("/examples/service-only", headers={"X-API-Key": new["key"]})
    ).status_code == 200


async def test_another_users_key_is_404(client: httpx.AsyncClient, app: Any) -> None:
    _, owner = await user_with_token(client)
    _, stranger = await user_with_token(client)
    created = await create_key(client, owner["access_token"])
    for action in ("revoke", "rotate"):
        response = await client.post(
            f"/keys/{created['id']}/{action}", headers=bearer(stranger["access_token"])
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "api_key_not_found"
    assert (await client.get("/keys", headers=bearer(stranger["access_token"]))).json() == {
        "items": []
    }
    assert (
        await client.get("/examples/either", headers={"X-API-Key": created["key"]})
    ).status_code == 200
    assert await count_rows(app, "api_key") == 1


async def test_a_key_cannot_manage_keys(client: httpx.AsyncClient, app: Any) -> None:
    _, pair = await user_with_token(client)
    created = await create_key(client, pair["access_token"])
    response = await client.post(
        "/keys/create",
        json={"name": "child", "scopes": ["query"]},
        headers={"X-API-Key": created["key"]},
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert await count_rows(app, "api_key") == 1
