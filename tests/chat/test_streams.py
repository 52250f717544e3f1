"""Streaming a reply as server-sent events: complete, resumed, live, after disconnects, replayed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from oja.chat import streams as chat_streams
from tests.chat.conftest import auth, new_room, new_user
from tests.conftest import Jobs

PROMPT = (
    "Lagos is the largest city in Nigeria. It sits on the Atlantic coast. Markets there open early "
    "and close late. Traffic is famous. The food is excellent, especially suya and jollof rice."
)


def parse(body: str) -> list[tuple[int, str, dict[str, Any]]]:
    events = []
    for block in body.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if ": " in line and line[0] != ":"
        )
        if "event" in fields:
            events.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
    return events


async def sent_and_generated(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> tuple[dict[str, str], dict[str, Any], str]:
    user = await new_user(client)
    room = await new_room(client, user)
    sent = await client.post(
        f"/chatroom/{room}/message", json={"content": PROMPT}, headers=auth(user)
    )
    assert sent.status_code == 202
    assert await jobs.run(app) == ["succeeded"]
    reply = (await client.get(sent.json()["status_url"], headers=auth(user))).json()["reply"]
    return user, sent.json(), reply["content"]


async def _resume(client: httpx.AsyncClient, app: Any, jobs: Jobs) -> None:
    user, sent, content = await sent_and_generated(client, app, jobs)
    whole = await client.get(sent["stream_url"], headers=auth(user))
    assert whole.status_code == 200
    assert whole.headers["content-type"].startswith("text/event-stream")
    events = parse(whole.text)
    kinds = [kind for _, kind, _ in events]
    assert kinds == ["delta"] * (len(events) - 1) + ["done"]
    assert len(events) > 4
    assert [seq for seq, _, _ in events] == list(range(1, len(events) + 1))
    assert "".join(data["text"] for _, kind, data in events if kind == "delta") == content
    assert events[-1][2]["message_id"] == sent["user_message"]["id"]

    middle = len(events) // 2
    resumed = await client.get(
        sent["stream_url"], headers={**auth(user), "Last-Event-ID": str(middle)}
    )
    tail = parse(resumed.text)
    assert tail == events[middle:]  # nothing missing, nothing repeated
    head = [data["text"] for seq, kind, data in events if kind == "delta" and seq <= middle]
    assert "".join(head) + "".join(d["text"] for _, k, d in tail if k == "delta") == content
    last = await client.get(
        sent["stream_url"], headers={**auth(user), "Last-Event-ID": str(len(events))}
    )
    assert parse(last.text) == []


async def test_a_stream_resumed_from_a_middle_event_misses_and_repeats_nothing(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    await _resume(client, app, jobs)


@pytest.mark.redis
async def test_resume_through_redis_streams(
    redis_client: httpx.AsyncClient, redis_app: Any, jobs: Jobs
) -> None:
    await _resume(redis_client, redis_app, jobs)


async def _live(client: httpx.AsyncClient, app: Any, jobs: Jobs) -> None:
    user = await new_user(client)
    room = await new_room(client, user)
    sent = (
        await client.post(f"/chatroom/{room}/message", json={"content": PROMPT}, headers=auth(user))
    ).json()
    reader = asyncio.create_task(client.get(sent["stream_url"], headers=auth(user)))
    leaver = asyncio.create_task(client.get(sent["stream_url"], headers=auth(user)))
    await asyncio.sleep(0.3)  # both readers are waiting on an empty stream
    leaver.cancel()  # one client disconnects before anything was written
    assert await jobs.run(app) == ["succeeded"]
    events = parse((await asyncio.wait_for(reader, 10)).text)
    assert events[-1][1] == "done"
    status = (await client.get(sent["status_url"], headers=auth(user))).json()
    assert status["status"] == "completed"
    text = "".join(d["text"] for _, k, d in events if k == "delta")
    assert text == status["reply"]["content"]


async def test_a_live_reader_gets_every_delta_and_a_leaver_changes_nothing(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    await _live(client, app, jobs)


@pytest.mark.redis
async def test_a_live_reader_through_redis_streams(
    redis_client: httpx.AsyncClient, redis_app: Any, jobs: Jobs
) -> None:
    await _live(redis_client, redis_app, jobs)


async def test_the_reply_is_stored_when_every_reader_has_gone(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    user = await new_user(client)
    room = await new_room(client, user)
    sent = (
        await client.post(f"/chatroom/{room}/message", json={"content": PROMPT}, headers=auth(user))
    ).json()
    readers = [
        asyncio.create_task(client.get(sent["stream_url"], headers=auth(user))) for _ in range(3)
    ]
    await asyncio.sleep(0.2)
    for reader in readers:
        reader.cancel()
    assert await jobs.run(app) == ["succeeded"]
    status = (await client.get(sent["status_url"], headers=auth(user))).json()
    assert status["status"] == "completed"
    assert status["reply"]["content"]


async def test_a_reply_written_in_another_process_is_replayed_from_the_database(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, sent, content = await sent_and_generated(client, app, jobs)
    # This process never saw the deltas (a worker elsewhere, no Redis): a fresh, empty buffer.
    monkeypatch.setattr(chat_streams, "_memory", None)
    events = parse((await client.get(sent["stream_url"], headers=auth(user))).text)
    assert events[-1][1] == "done"
    assert [seq for seq, _, _ in events] == list(range(1, len(events) + 1))
    assert "".join(d["text"] for _, k, d in events if k == "delta") == content
    tail = parse(
        (await client.get(sent["stream_url"], headers={**auth(user), "Last-Event-ID": "1"})).text
    )
    assert tail == events[1:]


async def test_a_retry_after_partial_deltas_sends_reset_and_keeps_numbering(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    user = await new_user(client)
    room = await new_room(client, user)
    sent = (
        await client.post(f"/chatroom/{room}/message", json={"content": PROMPT}, headers=auth(user))
    ).json()
    store = chat_streams.reply_streams(app.state.runtime, chat_streams.ChatSettings())
    key = chat_streams.stream_key(__import__("uuid").UUID(sent["user_message"]["id"]))
    await store.append(key, "delta", {"text": "half a rep"})  # what a dead attempt left behind
    assert await jobs.run(app) == ["succeeded"]
    events = parse((await client.get(sent["stream_url"], headers=auth(user))).text)
    assert [k for _, k, _ in events[:2]] == ["delta", "reset"]
    assert [seq for seq, _, _ in events] == list(range(1, len(events) + 1))
    after_reset = "".join(d["text"] for _, k, d in events[2:] if k == "delta")
    status = (await client.get(sent["status_url"], headers=auth(user))).json()
    assert after_reset == status["reply"]["content"]


async def test_streams_of_another_users_message_are_not_found(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    _, sent, _ = await sent_and_generated(client, app, jobs)
    stranger = await new_user(client)
    response = await client.get(sent["stream_url"], headers=auth(stranger))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "chatroom_not_found"
