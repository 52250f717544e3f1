"""Who may call what: the route × principal matrix, and the admin routes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import PASSWORD, bearer, count_rows, login, make_admin, signup, user_with_token


async def _key(client: httpx.AsyncClient, token: str, scopes: list[str]) -> str:
    response = await client.post(
        "/keys/create", json={"name": "k", "scopes": scopes}, headers=bearer(token)
    )
    assert response.status_code == 201
    return str(response.json()["key"])


async def test_route_principal_matrix(client: httpx.AsyncClient) -> None:
    user, pair = await user_with_token(client)
    scoped = await _key(client, pair["access_token"], ["examples:read"])
    unscoped = await _key(client, pair["access_token"], ["files:read"])
    principals: dict[str, dict[str, str]] = {
        "anonymous": {},
        "user": bearer(pair["access_token"]),
        "key": {"X-API-Key": scoped},
        "key as bearer": bearer(scoped),
        "key without scope": {"X-API-Key": unscoped},
    }
    expected = {
        ("anonymous", "user-only"): (401, "missing_credentials"),
        ("anonymous", "service-only"): (401, "missing_credentials"),
        ("anonymous", "either"): (401, "missing_credentials"),
        ("user", "user-only"): (200, None),
        ("user", "service-only"): (403, "forbidden"),
        ("user", "either"): (200, None),
        ("key", "user-only"): (403, "forbidden"),
        ("key", "service-only"): (200, None),
        ("key", "either"): (200, None),
        ("key as bearer", "user-only"): (403, "forbidden"),
        ("key as bearer", "service-only"): (200, None),
        ("key as bearer", "either"): (200, None),
        ("key without scope", "user-only"): (403, "forbidden"),
        ("key without scope", "service-only"): (403, "insufficient_scope"),
        ("key without scope", "either"): (403, "insufficient_scope"),
    }
    actual = {}
    for who, headers in principals.items():
        for route in ("user-only", "service-only", "either"):
            response = await client.get(f"/examples/{route}", headers=headers)
            body = response.json()
            actual[(who, route)] = (
                response.status_code,
                body["error"]["code"] if "error" in body else None,
            )
            if response.status_code == 200:
                assert body["user_id"] == user["id"]
                assert body["kind"] == ("user" if who == "user" else "service")
    assert actual == expected


async def test_admin_routes_refuse_buyers_and_keys(client: httpx.AsyncClient, app: Any) -> None:
    buyer, pair = await user_with_token(client)
    key = await _key(client, pair["access_token"], ["examples:read"])
    for headers in (bearer(pair["access_token"]), {"X-API-Key": key}):
        listed = await client.get("/users", headers=headers)
        assert listed.status_code == 403
        assert listed.json()["error"]["code"] == "forbidden"
        granted = await client.post(f"/users/{buyer['id']}/roles/admin", headers=headers)
        assert granted.status_code == 403
    assert (await client.get("/users")).status_code == 401
    me = await client.get("/user/me", headers=bearer(pair["access_token"]))
    assert me.json()["roles"] == ["buyer"]
    assert await count_rows(app, "user_role") == 1


async def test_admin_lists_grants_and_revokes(client: httpx.AsyncClient, app: Any) -> None:
    admin = await make_admin(app, "root@example.com")
    assert admin["roles"] == ["admin", "buyer"]
    token = (await login(client, email="root@example.com"))["access_token"]
    users = [await signup(client) for _ in range(3)]

    page = await client.get("/users", params={"page": 1, "per_page": 2}, headers=bearer(token))
    assert page.status_code == 200
    body = page.json()
    assert (body["total"], body["page"], body["per_page"]) == (4, 1, 2)
    assert [u["id"] for u in body["items"]] == [users[2]["id"], users[1]["id"]]
    last = (
        await client.get("/users", params={"page": 2, "per_page": 2}, headers=bearer(token))
    ).json()
    assert [u["id"] for u in last["items"]] == [users[0]["id"], admin["id"]]
    assert (
        await client.get("/users", params={"per_page": 101}, headers=bearer(token))
    ).status_code == 422

    target = users[0]
    granted = await client.post(f"/users/{target['id']}/roles/vendor", headers=bearer(token))
    assert granted.status_code == 200
    assert granted.json()["roles"] == ["buyer", "vendor"]
    again = await client.post(f"/users/{target['id']}/roles/vendor", headers=bearer(token))
    assert again.json()["roles"] == ["buyer", "vendor"]
    revoked = await client.delete(f"/users/{target['id']}/roles/vendor", headers=bearer(token))
    assert revoked.json()["roles"] == ["buyer"]

    bad_role = await client.post(f"/users/{target['id']}/roles/superuser", headers=bearer(token))
    assert bad_role.status_code == 422
    missing = await client.post(
        "/users/01936f4e-7c1a-7000-8000-1234567890ab/roles/vendor", headers=bearer(token)
    )
    assert missing.status_code == 404
    last_admin = await client.delete(f"/users/{admin['id']}/roles/admin", headers=bearer(token))
    assert last_admin.status_code == 409
    assert last_admin.json()["error"]["code"] == "last_admin"
    assert await count_rows(app, "user_role") == 5


async def test_role_changes_apply_at_once_on_role_checked_routes(
    client: httpx.AsyncClient, app: Any
) -> None:
    await make_admin(app, "root@example.com")
    root = (await login(client, email="root@example.com"))["access_token"]
    second = await signup(client)
    second_token = (await login(client, email=second["email"]))["access_token"]
    assert (await client.get("/users", headers=bearer(second_token))).status_code == 403
    await client.post(f"/users/{second['id']}/roles/admin", headers=bearer(root))
    assert (await client.get("/users", headers=bearer(second_token))).status_code == 200
    await client.delete(f"/users/{second['id']}/roles/admin", headers=bearer(root))
    assert (await client.get("/users", headers=bearer(second_token))).status_code == 403


@pytest.mark.parametrize("route", ["/auth/logout", "/auth/change-password"])
async def test_user_routes_refuse_api_keys(client: httpx.AsyncClient, route: str) -> None:
    _, pair = await user_with_token(client)
    key = await _key(client, pair["access_token"], ["examples:read"])
    response = await client.post(
        route,
        json={"current_password": PASSWORD, "new_password": "x" * 12},
        headers={"X-API-Key": key},
    )
    assert response.status_code == 403


async def test_user_me_refuses_a_disabled_account_and_an_api_key(
    client: httpx.AsyncClient, app: Any
) -> None:
    from sqlalchemy import update

    from oja.identity.models import User

    from .conftest import execute

    _, pair = await user_with_token(client)
    token = pair["access_token"]
    key = await _key(client, token, ["examples:read"])
    refused = await client.get("/user/me", headers={"X-API-Key": key})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
    await execute(app, update(User).values(is_active=False))
    disabled = await client.get("/user/me", headers=bearer(token))
    assert (disabled.status_code, disabled.json()["error"]["code"]) == (401, "account_disabled")


def test_user_me_resolves_three_dependencies(app: Any) -> None:
    """The hot read's dependency tree: each node is solved on every request."""
    from fastapi.dependencies.models import Dependant

    from oja.identity import dependencies

    def calls(dependant: Dependant) -> list[Any]:
        return [c for d in dependant.dependencies for c in [d.call, *calls(d)]]

    routes = [r for r in app.routes if hasattr(r, "effective_route_contexts")]
    me = next(
        c.original_route
        for r in routes
        for c in r.effective_route_contexts()
        if c.path == "/user/me"
    )
    assert sorted(getattr(c, "__name__", type(c).__name__) for c in set(calls(me.dependant))) == [
        "APIKeyHeader",
        "OAuth2PasswordBearer",
        "get_user_principal",
    ]
    assert dependencies.get_signed_in_user not in calls(me.dependant)
