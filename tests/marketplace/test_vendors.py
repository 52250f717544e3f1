"""Stores: opening, the public page, admin decisions and their record, staff."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from .conftest import admin, approved_store, count, error_code, open_store, person, rows


async def test_open_store_derives_slug_and_starts_pending(
    app: Any, client: httpx.AsyncClient
) -> None:
    owner = await person(client)
    store = await open_store(client, owner, "Mama Put Foods & Co.", contact_email="A@Mamaput.ng")
    assert store["slug"] == "mama-put-foods-co"
    assert store["status"] == "pending"
    assert store["role"] == "owner"
    me = await client.get("/vendors/me", headers=owner.headers)
    assert me.status_code == 200
    assert me.json()["id"] == store["id"]
    # Same derived slug again: a suffix, not a conflict.
    other = await open_store(client, await person(client), "Mama Put Foods & Co.")
    assert other["slug"].startswith("mama-put-foods-co-")
    assert await count(app, "vendor") == 2
    assert await count(app, "vendor_member", "role = 'owner'") == 2


async def test_taken_slug_and_second_store_are_refused_without_writes(
    app: Any, client: httpx.AsyncClient
) -> None:
    owner = await person(client)
    await open_store(client, owner, "Shop", slug="shop")
    again = await client.post("/vendors", json={"name": "Other"}, headers=owner.headers)
    assert (again.status_code, error_code(again)) == (409, "already_vendor_member")
    taken = await client.post(
        "/vendors", json={"name": "Other", "slug": "shop"}, headers=(await person(client)).headers
    )
    assert (taken.status_code, error_code(taken)) == (409, "vendor_slug_taken")
    reserved = await client.post(
        "/vendors", json={"name": "Me", "slug": "me"}, headers=(await person(client)).headers
    )
    assert (reserved.status_code, error_code(reserved)) == (409, "vendor_slug_taken")
    bad = await client.post(
        "/vendors", json={"name": "X", "slug": "Not A Slug"}, headers=(await person(client)).headers
    )
    assert bad.status_code == 422
    assert await count(app, "vendor") == 1
    assert await count(app, "vendor_member") == 1


async def test_logo_must_be_the_callers_file(app: Any, client: httpx.AsyncClient) -> None:
    owner = await person(client)
    response = await client.post(
        "/vendors",
        json={"name": "Shop", "logo": "01938f6e-7b1a-7c3e-9a55-3f1f0c2d4e5f"},
        headers=owner.headers,
    )
    assert (response.status_code, error_code(response)) == (404, "logo_not_found")
    assert await count(app, "vendor") == 0


async def test_public_page_only_for_approved_stores(app: Any, client: httpx.AsyncClient) -> None:
    boss = await admin(app, client)
    owner = await person(client)
    store = await open_store(client, owner, "Shop")
    for key in (store["id"], store["slug"]):
        hidden = await client.get(f"/vendors/{key}")
        assert (hidden.status_code, error_code(hidden)) == (404, "vendor_not_found")
    approved = await client.post(f"/admin/vendors/{store['id']}/approve", headers=boss.headers)
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    for key in (store["id"], store["slug"]):
        shown = await client.get(f"/vendors/{key}")
        assert shown.status_code == 200
        assert shown.json()["rating"] is None
        assert shown.json()["product_count"] == 0
        assert "status" not in shown.json()
    suspended = await client.post(
        f"/admin/vendors/{store['id']}/suspend",
        json={"reason": "fraud reports"},
        headers=boss.headers,
    )
    assert suspended.status_code == 200
    assert suspended.json()["status_reason"] == "fraud reports"
    assert (await client.get(f"/vendors/{store['slug']}")).status_code == 404


async def test_approval_grants_vendor_role_and_records_transition(
    app: Any, client: httpx.AsyncClient, log_output: Any
) -> None:
    boss = await admin(app, client)
    owner = await person(client)
    store = await open_store(client, owner, "Shop")
    assert "vendor" not in (await client.get("/user/me", headers=owner.headers)).json()["roles"]
    await client.post(f"/admin/vendors/{store['id']}/approve", headers=boss.headers)
    assert "vendor" in (await client.get("/user/me", headers=owner.headers)).json()["roles"]
    changes = await rows(
        app, "SELECT from_status, to_status, actor_id, reason FROM vendor_status_change"
    )
    assert [(c[0], c[1], str(c[2]).replace("-", ""), c[3]) for c in changes] == [
        ("pending", "approved", boss.id.replace("-", ""), None)
    ]
    logged = [
        e for e in log_output.events() if e.get("event") == "marketplace.vendor.status_changed"
    ]
    assert [(e["from_status"], e["to_status"]) for e in logged] == [("pending", "approved")]


async def test_transitions_follow_the_table(app: Any, client: httpx.AsyncClient) -> None:
    boss = await admin(app, client)
    store = await open_store(client, await person(client), "Shop")
    url = f"/admin/vendors/{store['id']}"
    no_reason = await client.post(f"{url}/reject", json={}, headers=boss.headers)
    assert (no_reason.status_code, error_code(no_reason)) == (422, "reason_required")
    suspend_pending = await client.post(
        f"{url}/suspend", json={"reason": "x"}, headers=boss.headers
    )
    assert (suspend_pending.status_code, error_code(suspend_pending)) == (
        409,
        "invalid_vendor_transition",
    )
    assert suspend_pending.json()["error"]["message"] == "A pending store cannot be suspended."
    rejected = await client.post(f"{url}/reject", json={"reason": "no docs"}, headers=boss.headers)
    assert rejected.json()["status"] == "rejected"
    approve_rejected = await client.post(f"{url}/approve", headers=boss.headers)
    assert (approve_rejected.status_code, error_code(approve_rejected)) == (
        409,
        "invalid_vendor_transition",
    )
    assert await count(app, "vendor_status_change") == 1
    assert await count(app, "vendor", "status = 'rejected' AND status_reason = 'no docs'") == 1
    missing = await client.post(
        "/admin/vendors/01938f6e-7b1a-7c3e-9a55-3f1f0c2d4e5f/approve", headers=boss.headers
    )
    assert (missing.status_code, error_code(missing)) == (404, "vendor_not_found")


async def test_admin_list_filters_by_status(app: Any, client: httpx.AsyncClient) -> None:
    boss = await admin(app, client)
    first = await open_store(client, await person(client), "One")
    await open_store(client, await person(client), "Two")
    await client.post(f"/admin/vendors/{first['id']}/approve", headers=boss.headers)
    everything = await client.get("/admin/vendors", headers=boss.headers)
    assert everything.json()["total"] == 2
    pending = await client.get("/admin/vendors?status=pending&per_page=1", headers=boss.headers)
    assert [v["name"] for v in pending.json()["items"]] == ["Two"]
    assert (pending.json()["total"], pending.json()["pages"]) == (1, 1)


async def test_patch_my_store(app: Any, client: httpx.AsyncClient) -> None:
    owner = await person(client)
    await open_store(client, owner, "Shop", slug="shop")
    taken = await open_store(client, await person(client), "Taken", slug="taken")
    assert taken["slug"] == "taken"
    clash = await client.patch("/vendors/me", json={"slug": "taken"}, headers=owner.headers)
    assert (clash.status_code, error_code(clash)) == (409, "vendor_slug_taken")
    same = await client.patch("/vendors/me", json={"slug": "shop"}, headers=owner.headers)
    assert same.status_code == 200
    changed = await client.patch(
        "/vendors/me",
        json={"description": "Open Sundays", "status": "approved"},
        headers=owner.headers,
    )
    assert changed.status_code == 422  # status is not the store's to set
    changed = await client.patch(
        "/vendors/me", json={"description": "Open Sundays"}, headers=owner.headers
    )
    assert changed.json()["description"] == "Open Sundays"
    assert changed.json()["status"] == "pending"


async def test_staff_rules(app: Any, client: httpx.AsyncClient) -> None:
    boss = await admin(app, client)
    owner = await person(client)
    await approved_store(client, owner, boss, "Shop")
    manager = await person(client)
    clerk = await person(client)
    added = await client.post(
        "/vendors/me/staff", json={"email": manager.email, "role": "manager"}, headers=owner.headers
    )
    assert added.status_code == 201
    assert added.json()["role"] == "manager"
    assert "vendor" in (await client.get("/user/me", headers=manager.headers)).json()["roles"]
    by_id = await client.post(
        "/vendors/me/staff", json={"user_id": clerk.id}, headers=manager.headers
    )
    assert (by_id.status_code, by_id.json()["role"]) == (201, "staff")
    # Staff cannot manage staff; managers cannot touch owners; the last owner stays.
    refused = await client.post(
        "/vendors/me/staff", json={"email": (await person(client)).email}, headers=clerk.headers
    )
    assert (refused.status_code, error_code(refused)) == (403, "vendor_role_required")
    owner_by_manager = await client.delete(f"/vendors/me/staff/{owner.id}", headers=manager.headers)
    assert (owner_by_manager.status_code, error_code(owner_by_manager)) == (
        403,
        "vendor_role_required",
    )
    last = await client.delete(f"/vendors/me/staff/{owner.id}", headers=owner.headers)
    assert (last.status_code, error_code(last)) == (409, "last_owner")
    twice = await client.post(
        "/vendors/me/staff", json={"user_id": clerk.id}, headers=owner.headers
    )
    assert (twice.status_code, error_code(twice)) == (409, "already_vendor_member")
    nobody = await client.post(
        "/vendors/me/staff", json={"email": "nobody@example.com"}, headers=owner.headers
    )
    assert (nobody.status_code, error_code(nobody)) == (404, "staff_user_not_found")
    both = await client.post(
        "/vendors/me/staff", json={"email": clerk.email, "user_id": clerk.id}, headers=owner.headers
    )
    assert both.status_code == 422
    assert await count(app, "vendor_member") == 3
    removed = await client.delete(f"/vendors/me/staff/{clerk.id}", headers=manager.headers)
    assert removed.status_code == 204
    gone = await client.delete(f"/vendors/me/staff/{clerk.id}", headers=manager.headers)
    assert (gone.status_code, error_code(gone)) == (404, "staff_not_found")
    assert (await client.get("/vendors/me", headers=clerk.headers)).status_code == 403
    staff = await client.get("/vendors/me/staff", headers=owner.headers)
    assert sorted(m["role"] for m in staff.json()) == ["manager", "owner"]
    # A second owner makes the first removable.
    co_owner = await person(client)
    await client.post(
        "/vendors/me/staff", json={"user_id": co_owner.id, "role": "owner"}, headers=owner.headers
    )
    assert (
        await client.delete(f"/vendors/me/staff/{owner.id}", headers=co_owner.headers)
    ).status_code == 204


# A race: proven on PostgreSQL only (SQLite serialises every writer).
@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_two_owners_removing_each_other_leave_one(
    app: Any, client: httpx.AsyncClient, database_url: str
) -> None:
    first = await person(client)
    await open_store(client, first, "Shop")
    second = await person(client)
    added = await client.post(
        "/vendors/me/staff", json={"user_id": second.id, "role": "owner"}, headers=first.headers
    )
    assert added.status_code == 201
    results = await asyncio.gather(
        client.delete(f"/vendors/me/staff/{second.id}", headers=first.headers),
        client.delete(f"/vendors/me/staff/{first.id}", headers=second.headers),
    )
    # The loser is refused: as the last owner (409), or as no longer a member when its request
    # began after the winner's commit (403). Never both removed.
    winner, loser = sorted(results, key=lambda r: r.status_code)
    assert winner.status_code == 204
    assert (loser.status_code, error_code(loser)) in {
        (409, "last_owner"),
        (403, "not_a_vendor_member"),
    }
    assert await count(app, "vendor_member", "role = 'owner'") == 1
