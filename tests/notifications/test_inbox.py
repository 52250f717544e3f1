"""The in-app inbox: each user sees and marks only their own notifications."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Jobs
from tests.marketplace.conftest import error_code, rows
from tests.notifications.conftest import SHIPPED, Fakes, emit, reachable


async def test_users_see_and_mark_only_their_own_notifications(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    ada, bola = await reachable(app, client), await reachable(app, client, name="Bola")
    await emit(app, "order.shipped", [ada], **SHIPPED)
    await emit(app, "order.delivered", [ada], **SHIPPED)
    await emit(app, "order.delivered", [bola], **SHIPPED)
    await jobs.run(app)

    mine = (await client.get("/notifications", headers=ada.headers)).json()
    assert [n["event"] for n in mine["items"]] == ["order.delivered", "order.shipped"]
    theirs = (await client.get("/notifications", headers=bola.headers)).json()
    assert [n["event"] for n in theirs["items"]] == ["order.delivered"]
    adas_first = mine["items"][1]["id"]

    # Another user's notification is not found, and stays unread.
    foreign = await client.post(f"/notifications/{adas_first}/read", headers=bola.headers)
    assert (foreign.status_code, error_code(foreign)) == (404, "notification_not_found")
    unread = await client.get("/notifications/unread-count", headers=ada.headers)
    assert unread.json() == {"unread": 2}

    read = await client.post(f"/notifications/{adas_first}/read", headers=ada.headers)
    assert read.status_code == 200
    assert read.json()["id"] == adas_first
    assert read.json()["read_at"] is not None
    again = await client.post(f"/notifications/{adas_first}/read", headers=ada.headers)
    assert again.json()["read_at"] == read.json()["read_at"]

    only_unread = (await client.get("/notifications?unread=true", headers=ada.headers)).json()
    assert [n["event"] for n in only_unread["items"]] == ["order.delivered"]
    assert (await client.get("/notifications/unread-count", headers=ada.headers)).json() == {
        "unread": 1
    }

    # read-all marks Ada's only: Bola's stays unread.
    marked = await client.post("/notifications/read-all", headers=ada.headers)
    assert marked.json() == {"marked": 1}
    assert (await client.get("/notifications/unread-count", headers=ada.headers)).json() == {
        "unread": 0
    }
    assert (await client.get("/notifications/unread-count", headers=bola.headers)).json() == {
        "unread": 1
    }
    unread_rows = await rows(app, "SELECT count(*) FROM notification WHERE read_at IS NULL")
    assert unread_rows[0][0] == 1


async def test_the_inbox_is_paginated_newest_first(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    ada = await reachable(app, client)
    for number in range(3):
        await emit(app, "order.delivered", [ada], **{**SHIPPED, "order_number": f"OJA-{number}"})
    await jobs.run(app)
    first = (await client.get("/notifications?limit=2", headers=ada.headers)).json()
    assert (first["total"], first["per_page"], first["pages"]) == (3, 2, 2)
    assert [n["title"] for n in first["items"]] == [
        "Order OJA-2 delivered",
        "Order OJA-1 delivered",
    ]
    second = (await client.get("/notifications?per_page=2&page=2", headers=ada.headers)).json()
    assert [n["title"] for n in second["items"]] == ["Order OJA-0 delivered"]


async def test_the_inbox_needs_a_signed_in_user(client: httpx.AsyncClient) -> None:
    for method, path in (
        ("GET", "/notifications"),
        ("GET", "/notifications/unread-count"),
        ("POST", "/notifications/read-all"),
        ("GET", "/notifications/preferences"),
    ):
        answer = await client.request(method, path)
        assert answer.status_code == 401, path
