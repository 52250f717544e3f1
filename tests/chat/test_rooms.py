"""Chatrooms: CRUD, isolation between users, envelope errors, pagination and the cached list."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.chat.conftest import auth, new_room, new_user, use_chat
from tests.conftest import Jobs


async def test_rooms_are_created_listed_read_renamed_and_deleted(
    client: httpx.AsyncClient,
) -> None:
    user = await new_user(client)
    created = await client.post(
        "/chatroom", json={"title": "  Trip   to Lagos "}, headers=auth(user)
    )
    assert created.status_code == 201
    room = created.json()
    assert room["title"] == "Trip to Lagos"
    assert set(room) == {"id", "title", "created_at", "updated_at"}

    listed = await client.get("/chatroom", headers=auth(user))
    assert listed.status_code == 200
    assert listed.json() == {"items": [room], "total": 1}

    detail = await client.get(f"/chatroom/{room['id']}", headers=auth(user))
    assert detail.status_code == 200
    assert detail.json()["messages"] == {
        "items": [],
        "total": 0,
        "page": 1,
        "per_page": 50,
        "pages": 1,
    }

    renamed = await client.patch(
        f"/chatroom/{room['id']}", json={"title": "Lagos, March"}, headers=auth(user)
    )
    assert renamed.status_code == 200
    assert renamed.json()["title"] == "Lagos, March"

    deleted = await client.delete(f"/chatroom/{room['id']}", headers=auth(user))
    assert deleted.status_code == 204
    assert deleted.content == b""
    gone = await client.get(f"/chatroom/{room['id']}", headers=auth(user))
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "chatroom_not_found"
    assert (await client.get("/chatroom", headers=auth(user))).json() == {"items": [], "total": 0}


async def test_another_users_room_is_not_found_and_untouched(client: httpx.AsyncClient) -> None:
    owner, stranger = await new_user(client), await new_user(client)
    room = await new_room(client, owner, "Mine")
    attempts = [
        client.get(f"/chatroom/{room}", headers=auth(stranger)),
        client.patch(f"/chatroom/{room}", json={"title": "Theirs"}, headers=auth(stranger)),
        client.delete(f"/chatroom/{room}", headers=auth(stranger)),
        client.post(f"/chatroom/{room}/message", json={"content": "hi"}, headers=auth(stranger)),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "chatroom_not_found"
    assert (await client.get("/chatroom", headers=auth(stranger))).json()["total"] == 0
    mine = await client.get(f"/chatroom/{room}", headers=auth(owner))
    assert mine.json()["title"] == "Mine"
    assert mine.json()["messages"]["total"] == 0


async def test_bad_input_and_missing_tokens_get_envelope_errors(
    client: httpx.AsyncClient, app: Any
) -> None:
    user = await new_user(client)
    blank = await client.post("/chatroom", json={"title": "   "}, headers=auth(user))
    assert blank.status_code == 422
    assert blank.json()["error"]["code"] == "validation_error"
    long = await client.post("/chatroom", json={"title": "x" * 201}, headers=auth(user))
    assert long.status_code == 422
    # PostgreSQL cannot store NUL; the fuzzer found it as a 500. Refused on every backend.
    nul = await client.post("/chatroom", json={"title": "K@;\u0000"}, headers=auth(user))
    assert nul.status_code == 422
    assert nul.json()["error"]["details"][0]["loc"] == ["body", "title"]
    assert (await client.get("/chatroom", headers=auth(user))).json()["total"] == 0
    anonymous = await client.get("/chatroom")
    assert anonymous.status_code == 401
    assert set(anonymous.json()["error"]) == {"code", "message", "details"}
    bad_id = await client.get("/chatroom/not-a-uuid", headers=auth(user))
    assert bad_id.status_code == 422
    room = await new_room(client, user)
    empty = await client.post(
        f"/chatroom/{room}/message", json={"content": " \n "}, headers=auth(user)
    )
    assert empty.status_code == 422
    nul_prompt = await client.post(
        f"/chatroom/{room}/message", json={"content": "hi\u0000"}, headers=auth(user)
    )
    assert nul_prompt.status_code == 422
    assert nul_prompt.json()["error"]["details"][0]["loc"] == ["body", "content"]
    use_chat(app, chat_wait_seconds=0, chat_max_message_chars=10)
    too_long = await client.post(
        f"/chatroom/{room}/message", json={"content": "x" * 11}, headers=auth(user)
    )
    assert too_long.status_code == 422
    assert too_long.json()["error"]["code"] == "message_too_long"
    status = await client.get("/subscription/status", headers=auth(user))
    assert status.json()["usage"]["remaining"] == 5  # refused prompts cost nothing


async def test_messages_are_paged_from_the_newest_and_listed_newest_last(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    user = await new_user(client)
    room = await new_room(client, user)
    for n in range(3):
        sent = await client.post(
            f"/chatroom/{room}/message", json={"content": f"Prompt number {n}."}, headers=auth(user)
        )
        assert sent.status_code == 202
        await jobs.run(app)
    first = await client.get(f"/chatroom/{room}?per_page=4", headers=auth(user))
    page = first.json()["messages"]
    assert (page["total"], page["pages"], page["page"]) == (6, 2, 1)
    assert [(m["role"], m["content"]) for m in page["items"]] == [
        ("user", "Prompt number 1."),
        ("assistant", "Prompt number 1."),
        ("user", "Prompt number 2."),
        ("assistant", "Prompt number 2."),
    ]
    second = await client.get(f"/chatroom/{room}?per_page=4&page=2", headers=auth(user))
    assert [m["content"] for m in second.json()["messages"]["items"]] == [
        "Prompt number 0.",
        "Prompt number 0.",
    ]
    assert (
        await client.get(f"/chatroom/{room}?per_page=101", headers=auth(user))
    ).status_code == 422


async def _cache_roundtrip(client: httpx.AsyncClient, app: Any) -> None:
    stats = app.state.runtime.cache.stats
    user, other = await new_user(client), await new_user(client)
    room = await new_room(client, user, "First")

    first = await client.get("/chatroom", headers=auth(user))
    assert first.headers["x-cache"] == "miss"
    hits, misses = stats.hits, stats.misses
    second = await client.get("/chatroom", headers=auth(user))
    assert second.headers["x-cache"] == "hit"
    # Two reads (the user's cache generation, then the list), both hits, and no miss.
    assert (stats.hits, stats.misses) == (hits + 2, misses)
    assert second.content == first.content
    # Per user: someone else's list is their own miss.
    assert (await client.get("/chatroom", headers=auth(other))).json()["total"] == 0

    await new_room(client, user, "Second")
    after_create = await client.get("/chatroom", headers=auth(user))
    assert after_create.headers["x-cache"] == "miss"
    assert [r["title"] for r in after_create.json()["items"]] == ["Second", "First"]
    assert (await client.get("/chatroom", headers=auth(user))).headers["x-cache"] == "hit"

    await client.patch(f"/chatroom/{room}", json={"title": "Renamed"}, headers=auth(user))
    after_rename = await client.get("/chatroom", headers=auth(user))
    assert after_rename.headers["x-cache"] == "miss"
    assert [r["title"] for r in after_rename.json()["items"]] == ["Second", "Renamed"]

    await client.delete(f"/chatroom/{room}", headers=auth(user))
    after_delete = await client.get("/chatroom", headers=auth(user))
    assert after_delete.headers["x-cache"] == "miss"
    assert [r["title"] for r in after_delete.json()["items"]] == ["Second"]
    assert (await client.get("/chatroom", headers=auth(user))).headers["x-cache"] == "hit"


async def test_room_list_is_cached_per_user_and_writes_invalidate_it(
    client: httpx.AsyncClient, app: Any
) -> None:
    await _cache_roundtrip(client, app)


@pytest.mark.redis
async def test_room_list_cache_in_redis(redis_client: httpx.AsyncClient, redis_app: Any) -> None:
    await _cache_roundtrip(redis_client, redis_app)


async def test_a_message_does_not_invalidate_the_room_list(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    user = await new_user(client)
    room = await new_room(client, user)
    await client.get("/chatroom", headers=auth(user))
    await client.post(f"/chatroom/{room}/message", json={"content": "Hello."}, headers=auth(user))
    await jobs.run(app)
    assert (await client.get("/chatroom", headers=auth(user))).headers["x-cache"] == "hit"
