"""Prompts and replies: quota per tier, the wait, resends, providers, failures and refunds."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text, update

from oja.chat.config import ChatSettings
from oja.chat.generation import SYSTEM_PROMPT, Turn, conversation
from oja.chat.models import ChatMessage
from oja.chat.streams import reply_streams, stream_key
from oja.core.clock import utcnow
from oja.core.jobs import Job, JobStatus
from oja.core.jobs.sweeper import LEASE_EXPIRED, sweep
from oja.sandbox.gemini import GeminiFake
from tests.chat.conftest import (
    GENAI_STREAM_WARNING,
    auth,
    make_pro,
    new_room,
    new_user,
    remaining,
    use_chat,
)
from tests.conftest import Jobs, use_settings


async def rows(app: Any, sql: str, **params: Any) -> list[Any]:
    async with app.state.runtime.database.engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def replies_in(app: Any, room: str) -> int:
    async with app.state.runtime.database.sessionmaker() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(ChatMessage)
            .where(ChatMessage.chatroom_id == uuid.UUID(room), ChatMessage.role == "assistant")
        )
    return int(found or 0)


def send(
    client: httpx.AsyncClient, user: dict[str, str], room: str, content: str, **extra: Any
) -> Any:
    return client.post(
        f"/chatroom/{room}/message", json={"content": content, **extra}, headers=auth(user)
    )


async def test_the_reply_comes_back_in_the_response_when_it_is_ready_in_time(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    jobs.inline_runtime = app.state.runtime
    use_chat(app, chat_wait_seconds=5)
    user = await new_user(client)
    room = await new_room(client, user)
    response = await send(client, user, room, "Pack light clothes. Lagos is warm in March.")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "completed"
    assert body["user_message"]["status"] == "completed"
    reply = body["assistant_message"]
    assert reply["role"] == "assistant"
    assert reply["reply_to_id"] == body["user_message"]["id"]
    # No Gemini key configured: the offline provider answered, and says so.
    assert (reply["provider"], reply["model"]) == ("local", "oja-local-extractive-1")
    assert reply["content"]
    assert reply["usage"]["total_tokens"] == (
        reply["usage"]["prompt_tokens"] + reply["usage"]["completion_tokens"]
    )
    assert await remaining(client, user) == 4
    assert await rows(app, "SELECT status FROM quota_reservation") in ([], [("committed",)])


async def test_a_slow_reply_answers_202_and_the_status_link_shows_it_later(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    user = await new_user(client)
    room = await new_room(client, user)
    response = await send(client, user, room, "Tell me about Ibadan.")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending"
    assert body["assistant_message"] is None
    assert response.headers["location"] == body["status_url"]
    pending = await client.get(body["status_url"], headers=auth(user))
    assert pending.status_code == 200
    assert (pending.json()["status"], pending.json()["reply"]) == ("pending", None)

    assert await jobs.run(app) == ["succeeded"]
    done = (await client.get(body["status_url"], headers=auth(user))).json()
    assert done["status"] == "completed"
    assert done["reply"]["reply_to_id"] == body["user_message"]["id"]
    reply_url = f"/chatroom/{room}/messages/{done['reply']['id']}"
    reply = (await client.get(reply_url, headers=auth(user))).json()
    assert (reply["role"], reply["reply"], reply["stream_url"]) == (
        "assistant",
        None,
        body["stream_url"],
    )
    stranger = await new_user(client)
    assert (await client.get(body["status_url"], headers=auth(stranger))).status_code == 404
    missing = f"/chatroom/{room}/messages/{uuid.uuid4()}"
    assert (await client.get(missing, headers=auth(user))).json()["error"]["code"] == (
        "message_not_found"
    )


async def test_a_resent_client_message_id_returns_the_first_result_and_spends_nothing(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    user = await new_user(client)
    room = await new_room(client, user)
    first = await send(client, user, room, "Hello, Oja.", client_message_id="c-1")
    assert first.status_code == 202
    again = await send(client, user, room, "Hello, Oja.", client_message_id="c-1")
    assert again.status_code == 202
    assert again.json()["user_message"]["id"] == first.json()["user_message"]["id"]
    assert len(jobs.published) == 1
    assert await jobs.run(app) == ["succeeded"]

    jobs.inline_runtime = app.state.runtime
    use_chat(app, chat_wait_seconds=5)
    settled = await send(client, user, room, "Hello, Oja.", client_message_id="c-1")
    assert settled.status_code == 201
    assert settled.json()["user_message"]["id"] == first.json()["user_message"]["id"]
    assert await replies_in(app, room) == 1
    assert await remaining(client, user) == 4

    reused = await send(client, user, room, "Something else.", client_message_id="c-1")
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "client_message_id_reused"
    # The same id in another room is another prompt.
    other = await new_room(client, user, "Other")
    assert (
        await send(client, user, other, "Hello, Oja.", client_message_id="c-1")
    ).status_code == 201
    assert await remaining(client, user) == 3


async def test_concurrent_resends_make_one_prompt(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    user = await new_user(client)
    room = await new_room(client, user)
    answers = await asyncio.gather(
        *(send(client, user, room, "Same prompt.", client_message_id="twin") for _ in range(5))
    )
    assert {a.status_code for a in answers} == {202}
    assert len({a.json()["user_message"]["id"] for a in answers}) == 1
    assert await jobs.run(app) == ["succeeded"]
    assert await remaining(client, user) == 4


async def test_basic_users_get_five_prompts_a_day_then_429_with_remaining_and_reset(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    user = await new_user(client)
    room = await new_room(client, user)
    for n in range(5):
        assert (await send(client, user, room, f"Prompt {n}.")).status_code == 202
    refused = await send(client, user, room, "One too many.")
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert error["details"]["remaining"] == 0
    assert error["details"]["limit"] == 5
    assert error["details"]["resets_at"].endswith("T00:00:00+00:00")
    assert int(refused.headers["retry-after"]) > 0
    assert await jobs.run(app) == ["succeeded"] * 5
    assert await rows(app, "SELECT count(*) FROM chat_message WHERE role = 'user'") == [(5,)]


async def test_pro_users_are_not_limited(client: httpx.AsyncClient, app: Any, jobs: Jobs) -> None:
    user = await new_user(client)
    await make_pro(app, user)
    room = await new_room(client, user)
    statuses = [(await send(client, user, room, f"Prompt {n}.")).status_code for n in range(20)]
    assert statuses == [202] * 20
    assert await jobs.run(app) == ["succeeded"] * 20
    assert await replies_in(app, room) == 20
    status = (await client.get("/subscription/status", headers=auth(user))).json()
    assert (status["tier"], status["usage"]["remaining"]) == ("pro", None)


async def _hundred_at_once(client: httpx.AsyncClient, app: Any, jobs: Jobs) -> None:
    user = await new_user(client)
    room = await new_room(client, user)
    answers = await asyncio.gather(*(send(client, user, room, f"Prompt {n}.") for n in range(100)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [202] * 5 + [429] * 95, {a.status_code: a.text for a in answers}
    assert all(
        a.json()["error"]["details"]["remaining"] == 0 for a in answers if a.status_code == 429
    )
    assert await jobs.run(app) == ["succeeded"] * 5
    assert await replies_in(app, room) == 5
    assert await rows(app, "SELECT count(*) FROM chat_message WHERE role = 'user'") == [(5,)]
    assert await remaining(client, user) == 0


@pytest.mark.redis
async def test_a_hundred_parallel_sends_by_a_basic_user_with_redis_quotas(
    redis_client: httpx.AsyncClient, redis_app: Any, jobs: Jobs
) -> None:
    await _hundred_at_once(redis_client, redis_app, jobs)


async def test_a_hundred_parallel_sends_by_a_basic_user_with_sql_quotas(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    await _hundred_at_once(client, app, jobs)


@GENAI_STREAM_WARNING
async def test_gemini_answers_with_the_room_history_within_the_token_budget(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, gemini: GeminiFake
) -> None:
    jobs.inline_runtime = app.state.runtime
    use_chat(app, chat_wait_seconds=5, chat_history_tokens=256)
    user = await new_user(client)
    await make_pro(app, user)
    room = await new_room(client, user)
    old = "An old question about yams. " * 30  # ~210 tokens: with the rest, over the budget
    assert (await send(client, user, room, old)).status_code == 201
    assert (await send(client, user, room, "Short question.")).status_code == 201
    latest = await send(client, user, room, "Latest question?")
    assert latest.status_code == 201, latest.text
    assert latest.json()["assistant_message"]["provider"] == "gemini"
    assert latest.json()["assistant_message"]["model"] == "gemini-2.0-flash"
    body = gemini.calls[-1].body
    turns = [(c["role"], c["parts"][0]["text"]) for c in body["contents"]]
    assert turns[-1] == ("user", "Latest question?")
    assert ("user", "Short question.") in turns
    assert all(old not in part for _, part in turns)
    assert body["systemInstruction"]["parts"][0]["text"] == SYSTEM_PROMPT
    assert [c.status for c in gemini.calls] == [200, 200, 200]


def test_history_keeps_the_newest_turns_that_fit_and_always_the_prompt() -> None:
    history = [Turn("user", "a" * 400), Turn("assistant", "b" * 400), Turn("user", "c" * 40)]
    budget = 40 + 10 + 120  # system prompt ≈ 40 tokens, prompt 10, room for c and b
    messages = conversation(history, "p" * 40, budget)
    assert [m.role for m in messages] == ["system", "assistant", "user", "user"]
    assert [m.content[0] for m in messages[1:]] == ["b", "c", "p"]
    alone = conversation(history, "p" * 4000, 256)
    assert [m.role for m in alone] == ["system", "user"]


@GENAI_STREAM_WARNING
async def test_gemini_429_is_retried_after_its_retry_delay_once_not_twice(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, gemini: GeminiFake, ai_env: list[float]
) -> None:
    jobs.inline_runtime = app.state.runtime
    use_chat(app, chat_wait_seconds=5)
    gemini.fail_next(1, status=429, retry_delay=1.5)
    user = await new_user(client)
    room = await new_room(client, user)
    response = await send(client, user, room, "Are you busy?")
    assert response.status_code == 201, response.text
    assert [c.status for c in gemini.calls] == [429, 200]
    assert ai_env == [1.5]  # the port slept exactly what Gemini asked; the job did not retry
    assert await replies_in(app, room) == 1
    assert await remaining(client, user) == 4


@GENAI_STREAM_WARNING
async def test_a_failed_reply_marks_the_prompt_failed_and_refunds_it(
    client: httpx.AsyncClient,
    app: Any,
    jobs: Jobs,
    gemini: GeminiFake,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_settings(app, llm_max_attempts=2)
    jobs.inline_runtime = app.state.runtime
    use_chat(app, chat_wait_seconds=5)
    gemini.fail_always(500)
    user = await new_user(client)
    room = await new_room(client, user)
    response = await send(client, user, room, "Will this work?", client_message_id="f-1")
    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["code"] == "chat_generation_failed"
    assert error["details"]["refunded"] is True
    assert error["details"]["message"]["status"] == "failed"
    assert "500" in error["details"]["message"]["error"]
    assert [c.status for c in gemini.calls] == [500, 500]
    assert await remaining(client, user) == 5
    assert await replies_in(app, room) == 0
    assert await rows(app, "SELECT status FROM job WHERE kind = 'chat.generate'") == [("failed",)]
    # A resend answers the same failure and spends nothing.
    again = await send(client, user, room, "Will this work?", client_message_id="f-1")
    assert again.status_code == 502
    assert await remaining(client, user) == 5
    assert len(gemini.calls) == 2


async def test_a_prompt_whose_job_died_is_failed_and_refunded_when_read(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    user = await new_user(client)
    room = await new_room(client, user)
    sent = (await send(client, user, room, "Lost in the post.")).json()
    assert await remaining(client, user) == 4
    async with app.state.runtime.database.sessionmaker() as session:
        await session.execute(update(Job).values(status=JobStatus.failed))
        await session.commit()
    status = (await client.get(sent["status_url"], headers=auth(user))).json()
    assert status["status"] == "failed"
    assert status["error"]
    assert await remaining(client, user) == 5
    jobs.published.clear()


async def test_a_prompt_whose_worker_died_on_the_last_attempt_is_failed_and_refunded_by_the_sweep(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    user = await new_user(client)
    room = await new_room(client, user)
    sent = (await send(client, user, room, "Anyone there?")).json()
    prompt_id = uuid.UUID(sent["user_message"]["id"])
    assert await remaining(client, user) == 4
    jobs.published.clear()  # delivered to a worker that then died on its last attempt
    async with app.state.runtime.database.sessionmaker() as session:
        await session.execute(
            update(Job).values(
                status=JobStatus.running,
                attempts=Job.max_attempts,
                lease_expires_at=utcnow() - timedelta(minutes=1),
            )
        )
        await session.commit()

    runtime = app.state.runtime
    assert await sweep(runtime) == {"republished": 0, "failed": 1}
    # Settled by the sweep itself, before anyone reads the prompt: failed, refunded, announced.
    assert await rows(app, "SELECT status, error FROM chat_message") == [("failed", LEASE_EXPIRED)]
    assert await remaining(client, user) == 5
    last = await reply_streams(runtime, runtime.settings.section(ChatSettings)).last(
        stream_key(prompt_id)
    )
    assert last is not None
    assert (last.kind, last.data) == (
        "error",
        {"message_id": str(prompt_id), "reason": LEASE_EXPIRED},
    )
    status = (await client.get(sent["status_url"], headers=auth(user))).json()
    assert (status["status"], status["error"]) == ("failed", LEASE_EXPIRED)
    assert await sweep(runtime) == {"republished": 0, "failed": 0}
    assert await remaining(client, user) == 5
    assert await replies_in(app, room) == 0


async def test_deleting_a_room_refunds_its_unanswered_prompts(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    user = await new_user(client)
    room = await new_room(client, user)
    await send(client, user, room, "Never answered.")
    assert await remaining(client, user) == 4
    assert (await client.delete(f"/chatroom/{room}", headers=auth(user))).status_code == 204
    assert await remaining(client, user) == 5
    assert await jobs.run(app) == ["succeeded"]  # finds nothing to answer
    assert await rows(app, "SELECT count(*) FROM chat_message") == [(0,)]
