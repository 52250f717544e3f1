"""What a client written from any seed finds first: `GET /` says what this is and where to go,
`GET /health` answers like `/healthz`, and every paginated list reads `limit` as `per_page`."""

from __future__ import annotations

from typing import Any

import httpx

import oja
from tests.identity.conftest import bearer, login, make_admin, signup


async def test_health_answers_like_healthz_without_a_token(client: httpx.AsyncClient) -> None:
    health = await client.get("/health")
    healthz = await client.get("/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (healthz.status_code, healthz.json()) == (200, {"status": "ok"})


async def test_the_index_names_the_server_and_every_link_answers(
    client: httpx.AsyncClient,
) -> None:
    index = await client.get("/")
    assert index.status_code == 200
    assert index.json() == {
        "name": "Oja",
        "version": oja.__version__,
        "links": {
            "docs": "/docs",
            "openapi": "/openapi.json",
            "health": "/health",
            "readyz": "/readyz",
        },
    }
    for link in index.json()["links"].values():
        assert (await client.get(link)).status_code == 200, link


def test_openapi_shows_the_index_and_health_as_public_with_examples(app: Any) -> None:
    document = app.openapi()
    schemas = document["components"]["schemas"]
    for path, schema in (("/", "Index"), ("/health", "Health"), ("/healthz", "Health")):
        operation = document["paths"][path]["get"]
        assert "security" not in operation, path
        content = operation["responses"]["200"]["content"]["application/json"]
        assert content["schema"] == {"$ref": f"#/components/schemas/{schema}"}, path
        assert schemas[schema]["examples"], schema
    assert schemas["Index"]["examples"][0]["version"] == oja.__version__


def paginated_routes(document: dict[str, Any]) -> list[str]:
    return sorted(
        path
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method == "get" and any(p["name"] == "per_page" for p in operation.get("parameters", []))
    )


async def test_every_paginated_list_reads_limit_and_documents_only_per_page(
    app: Any, client: httpx.AsyncClient
) -> None:
    document = app.openapi()
    routes = paginated_routes(document)
    assert routes == [
        "/admin/disputes",
        "/admin/payout-accounts",
        "/admin/payouts",
        "/admin/reviews",
        "/admin/vendors",
        "/admin/vendors/performance",
        "/chatroom/{chatroom_id}",
        "/documents",
        "/files",
        "/notifications",
        "/orders",
        "/products",
        "/products/{product_id}/price-history",
        "/products/{product_id}/reviews",
        "/search",
        "/transactions",
        "/users",
        "/vendors/me/imports",
        "/vendors/me/imports/{import_id}/failures",
        "/vendors/me/inventory",
        "/vendors/me/ledger",
        "/vendors/me/orders",
        "/vendors/me/payouts",
        "/vendors/me/returns",
        "/vendors/{vendor_id}/reviews",
    ]
    for path in routes:
        names = [p["name"] for p in document["paths"][path]["get"]["parameters"]]
        assert "limit" not in names, path

    await make_admin(app, "root@example.com")
    token = (await login(client, email="root@example.com"))["access_token"]
    room = await client.post("/chatroom", json={"title": "Room"}, headers=bearer(token))
    store = await client.post("/vendors", json={"name": "Root Store"}, headers=bearer(token))
    assert store.status_code == 201, store.text
    store_id = store.json()["id"]
    approved = await client.post(f"/admin/vendors/{store_id}/approve", headers=bearer(token))
    assert approved.status_code == 200, approved.text
    product = await client.post(
        "/products",
        json={"title": "Zobo", "sku": "Z-1", "price": 100, "status": "active"},
        headers=bearer(token),
    )
    assert product.status_code == 201, product.text
    imported = await client.post(
        "/vendors/me/imports?dry_run=true",
        files={"file": ("p.csv", b"title,sku,price,currency\nTea,T-1,100,NGN\n", "text/csv")},
        headers=bearer(token),
    )
    assert imported.status_code == 202, imported.text
    product_id = product.json()["id"]
    concrete = {
        "/chatroom/{chatroom_id}": f"/chatroom/{room.json()['id']}",
        "/products/{product_id}/price-history": f"/products/{product_id}/price-history",
        "/products/{product_id}/reviews": f"/products/{product_id}/reviews",
        "/vendors/me/imports/{import_id}/failures": (
            f"/vendors/me/imports/{imported.json()['id']}/failures"
        ),
        "/vendors/{vendor_id}/reviews": f"/vendors/{store_id}/reviews",
    }
    required = {"/admin/reviews": {"status": "pending"}}  # the moderation queue is always named
    for path in routes:
        url, query = concrete.get(path, path), required.get(path, {})
        refused = await client.get(url, params={**query, "limit": 0}, headers=bearer(token))
        assert refused.status_code == 422, path
        assert [d["loc"] for d in refused.json()["error"]["details"]] == [["query", "limit"]]
        read = await client.get(url, params={**query, "limit": 7}, headers=bearer(token))
        assert read.status_code == 200, (path, read.text)
        body = read.json()
        assert (body.get("messages") or body)["per_page"] == 7, path


async def test_users_are_paged_by_limit_and_per_page_wins_over_it(
    app: Any, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, "root@example.com")
    token = (await login(client, email="root@example.com"))["access_token"]
    users = [await signup(client) for _ in range(3)]
    page = (await client.get("/users?page=2&limit=2", headers=bearer(token))).json()
    assert (page["total"], page["page"], page["per_page"]) == (4, 2, 2)
    assert [u["id"] for u in page["items"]] == [users[0]["id"], admin["id"]]
    both = (await client.get("/users?per_page=3&limit=1", headers=bearer(token))).json()
    assert (both["per_page"], len(both["items"])) == (3, 3)
