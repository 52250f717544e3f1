"""Seed 001 as a client written from it sends it: a chatroom has a `name`, a page size is a `limit`.

Both are read as Oja's own fields (`title`, `per_page`), and OpenAPI documents only Oja's names.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.chat.conftest import auth, new_room, new_user


async def test_a_room_named_with_name_is_created_and_renamed(client: httpx.AsyncClient) -> None:
    user = await new_user(client)
    created = await client.post("/chatroom", json={"name": "Trip to Lagos"}, headers=auth(user))
    assert created.status_code == 201, created.text
    room = created.json()
    assert (room["title"], set(room)) == (
        "Trip to Lagos",
        {"id", "title", "created_at", "updated_at"},
    )

    renamed = await client.patch(
        f"/chatroom/{room['id']}", json={"name": "Lagos, March"}, headers=auth(user)
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["title"] == "Lagos, March"
    listed = (await client.get("/chatroom", headers=auth(user))).json()
    assert [r["title"] for r in listed["items"]] == ["Lagos, March"]


async def test_title_wins_over_name_and_one_of_them_is_required(client: httpx.AsyncClient) -> None:
    user = await new_user(client)
    both = await client.post(
        "/chatroom", json={"title": "Mine", "name": "Theirs"}, headers=auth(user)
    )
    assert (both.status_code, both.json()["title"]) == (201, "Mine")

    neither = await client.post("/chatroom", json={"topic": "Lagos"}, headers=auth(user))
    assert neither.status_code == 422
    assert [d["loc"] for d in neither.json()["error"]["details"]] == [["body", "title"]]
    blank = await client.post("/chatroom", json={"name": "   "}, headers=auth(user))
    assert blank.status_code == 422
    listed = (await client.get("/chatroom", headers=auth(user))).json()
    assert [r["title"] for r in listed["items"]] == ["Mine"]  # the refused ones stored nothing


async def test_limit_pages_a_rooms_messages_exactly_like_per_page(
    client: httpx.AsyncClient,
) -> None:
    user = await new_user(client)
    room = await new_room(client, user)
    for prompt in ("What should I pack?", "And for the rain?"):
        sent = await client.post(
            f"/chatroom/{room}/message", json={"content": prompt}, headers=auth(user)
        )
        assert sent.status_code == 202, sent.text
    by_limit = (await client.get(f"/chatroom/{room}?limit=1", headers=auth(user))).json()
    by_per_page = (await client.get(f"/chatroom/{room}?per_page=1", headers=auth(user))).json()
    assert by_limit == by_per_page
    assert (by_limit["messages"]["per_page"], by_limit["messages"]["pages"]) == (1, 2)
    assert [m["content"] for m in by_limit["messages"]["items"]] == ["And for the rain?"]


def test_openapi_documents_only_ojas_names(app: Any) -> None:
    document = app.openapi()
    schemas = document["components"]["schemas"]
    for name in ("ChatroomCreate", "ChatroomRename"):
        assert list(schemas[name]["properties"]) == ["title"], name
    detail = document["paths"]["/chatroom/{chatroom_id}"]["get"]
    assert [p["name"] for p in detail["parameters"]] == ["chatroom_id", "page", "per_page"]
