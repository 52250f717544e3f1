"""Categories: a tree of any depth on a materialised path, cached and dropped on change."""

from __future__ import annotations

from typing import Any

import httpx

from .conftest import Person, admin, count, error_code, person, rows


async def _create(client: httpx.AsyncClient, boss: Person, **body: Any) -> dict[str, Any]:
    response = await client.post("/categories", json=body, headers=boss.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_tree_breadcrumb_and_children(app: Any, client: httpx.AsyncClient) -> None:
    boss = await admin(app, client)
    root = await _create(client, boss, name="Electronics")
    phones = await _create(client, boss, name="Phones", parent_id=root["id"])
    android = await _create(client, boss, name="Android Phones", parent_id=phones["id"])
    await _create(client, boss, name="Fashion", slug="fashion")
    assert android["slug"] == "android-phones"
    tree = (await client.get("/categories")).json()
    assert [(n["slug"], [c["slug"] for c in n["children"]]) for n in tree] == [
        ("electronics", ["phones"]),
        ("fashion", []),
    ]
    assert tree[0]["children"][0]["children"][0]["slug"] == "android-phones"
    for key in (android["id"], "android-phones"):
        detail = (await client.get(f"/categories/{key}")).json()
        assert [a["slug"] for a in detail["ancestors"]] == ["electronics", "phones"]
        assert detail["children"] == []
    middle = (await client.get("/categories/phones")).json()
    assert [c["slug"] for c in middle["children"]] == ["android-phones"]
    paths = dict(await rows(app, "SELECT slug, path FROM category"))
    assert paths["android-phones"] == f"/{root['id']}/{phones['id']}/{android['id']}/"
    missing = await client.get("/categories/nothing-here")
    assert (missing.status_code, error_code(missing)) == (404, "category_not_found")


async def test_tree_is_cached_and_dropped_on_change(app: Any, client: httpx.AsyncClient) -> None:
    boss = await admin(app, client)
    await _create(client, boss, name="Books")
    assert [n["slug"] for n in (await client.get("/categories")).json()] == ["books"]
    assert await app.state.runtime.cache.get_json("marketplace:categories:tree") is not None
    # A change drops the cached tree once committed: the next read sees it.
    await _create(client, boss, name="Art")
    assert [n["slug"] for n in (await client.get("/categories")).json()] == ["art", "books"]
    hits = app.state.runtime.cache.stats.hits
    await client.get("/categories")
    assert app.state.runtime.cache.stats.hits == hits + 1


async def test_move_rewrites_the_subtree_and_refuses_cycles(
    app: Any, client: httpx.AsyncClient
) -> None:
    boss = await admin(app, client)
    a = await _create(client, boss, name="A")
    b = await _create(client, boss, name="B", parent_id=a["id"])
    c = await _create(client, boss, name="C", parent_id=b["id"])
    other = await _create(client, boss, name="Other")
    cycle = await client.patch(
        f"/categories/{a['id']}", json={"parent_id": c["id"]}, headers=boss.headers
    )
    assert (cycle.status_code, error_code(cycle)) == (409, "category_cycle")
    moved = await client.patch(
        f"/categories/{b['id']}", json={"parent_id": other["id"]}, headers=boss.headers
    )
    assert moved.status_code == 200
    assert moved.json()["parent_id"] == other["id"]
    paths = dict(await rows(app, "SELECT slug, path FROM category"))
    assert paths["c"] == f"/{other['id']}/{b['id']}/{c['id']}/"
    assert paths["a"] == f"/{a['id']}/"
    to_root = await client.patch(
        f"/categories/{b['id']}", json={"parent_id": None}, headers=boss.headers
    )
    assert to_root.json()["parent_id"] is None
    paths = dict(await rows(app, "SELECT slug, path FROM category"))
    assert paths["c"] == f"/{b['id']}/{c['id']}/"
    renamed = await client.patch(
        f"/categories/{c['id']}", json={"name": "Sea", "slug": "sea"}, headers=boss.headers
    )
    assert (renamed.json()["name"], renamed.json()["slug"]) == ("Sea", "sea")
    clash = await client.patch(f"/categories/{c['id']}", json={"slug": "a"}, headers=boss.headers)
    assert (clash.status_code, error_code(clash)) == (409, "category_slug_taken")


async def test_delete_only_unused(app: Any, client: httpx.AsyncClient) -> None:
    boss = await admin(app, client)
    parent = await _create(client, boss, name="Parent")
    child = await _create(client, boss, name="Child", parent_id=parent["id"])
    busy = await client.delete(f"/categories/{parent['id']}", headers=boss.headers)
    assert (busy.status_code, error_code(busy)) == (409, "category_in_use")
    assert await count(app, "category") == 2
    assert (
        await client.delete(f"/categories/{child['id']}", headers=boss.headers)
    ).status_code == 204
    assert (
        await client.delete(f"/categories/{parent['id']}", headers=boss.headers)
    ).status_code == 204
    assert await count(app, "category") == 0
    assert (await client.get("/categories")).json() == []


async def test_only_admins_write_categories(app: Any, client: httpx.AsyncClient) -> None:
    buyer = await person(client)
    refused = await client.post("/categories", json={"name": "X"}, headers=buyer.headers)
    assert refused.status_code == 403
    anonymous = await client.post("/categories", json={"name": "X"})
    assert anonymous.status_code == 401
    boss = await admin(app, client)
    taken = await _create(client, boss, name="Taken", slug="taken")
    again = await client.post(
        "/categories", json={"name": "T", "slug": "taken"}, headers=boss.headers
    )
    assert (again.status_code, error_code(again)) == (409, "category_slug_taken")
    orphan = await client.post(
        "/categories",
        json={"name": "T", "parent_id": taken["id"][:-4] + "0000"},
        headers=boss.headers,
    )
    assert (orphan.status_code, error_code(orphan)) == (404, "category_not_found")
    assert await count(app, "category") == 1
