"""A reply through the real queue: the API here, a worker subprocess on the filesystem broker, and
the Gemini fake over HTTP."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from oja.core.config import Settings
from oja.sandbox.gemini import DEFAULT_API_KEY, GeminiFake
from tests.chat.conftest import CHAT_SETTINGS, auth, new_room, new_user, remaining, use_chat
from tests.conftest import make_settings
from tests.processes import running

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def queued_app(
    tmp_path: Path, database_url: str, gemini_server: tuple[GeminiFake, str]
) -> AsyncIterator[Any]:
    """The app publishing to the filesystem broker (no captured publications)."""
    from oja.main import create_app

    application = create_app(
        make_settings(tmp_path, database_url, **CHAT_SETTINGS)
    )  # Celery's publisher
    yield application
    await application.state.runtime.close()


@pytest.fixture
async def queued_client(queued_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=queued_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@contextmanager
def worker(settings: Settings, gemini_url: str, log: Path) -> Iterator[None]:
    env = {
        **os.environ,
        "OJA_ENV": "test",
        "OJA_SECRET_KEY": settings.secret_key,
        "OJA_VAR_DIR": str(settings.app.var_dir),
        "OJA_DATABASE_URL": settings.database_url,
        "OJA_BROKER_URL": "filesystem://",
        "OJA_GEMINI_BASE_URL": gemini_url,
        "OJA_GEMINI_API_KEY": DEFAULT_API_KEY,
        "OJA_LLM_MAX_ATTEMPTS": "3",
        "OJA_LLM_RETRY_BASE_DELAY": "0.05",
        "PYTHONPATH": str(REPO),
    }
    env.pop("OJA_REDIS_URL", None)
    with running(["oja.cli", "worker", "--concurrency", "1"], env, log):
        yield


async def test_a_429_then_200_through_the_queue_gives_exactly_one_reply(
    queued_client: httpx.AsyncClient,
    queued_app: Any,
    gemini_fake: GeminiFake,
    gemini_server: tuple[GeminiFake, str],
    tmp_path: Path,
) -> None:
    use_chat(queued_app, chat_wait_seconds=45)
    gemini_fake.fail_next(1, status=429, retry_delay=1)
    user = await new_user(queued_client)
    room = await new_room(queued_client, user)
    log = tmp_path / "worker.log"
    with worker(queued_app.state.runtime.settings, gemini_server[1], log):
        response = await queued_client.post(
            f"/chatroom/{room}/message",
            json={"content": "Hello from the queue."},
            headers=auth(user),
        )
    assert response.status_code == 201, (response.text, log.read_text()[-3000:])
    reply = response.json()["assistant_message"]
    assert reply["provider"] == "gemini"
    assert [c.status for c in gemini_fake.calls] == [429, 200]
    detail = (await queued_client.get(f"/chatroom/{room}", headers=auth(user))).json()
    assert [m["role"] for m in detail["messages"]["items"]] == ["user", "assistant"]
    assert await remaining(queued_client, user) == 4
    assert "ai.call.retrying" in log.read_text()


async def test_a_failing_provider_through_the_queue_fails_the_prompt_and_refunds_it(
    queued_client: httpx.AsyncClient,
    queued_app: Any,
    gemini_fake: GeminiFake,
    gemini_server: tuple[GeminiFake, str],
    tmp_path: Path,
) -> None:
    use_chat(queued_app, chat_wait_seconds=45)
    gemini_fake.fail_always(500)
    user = await new_user(queued_client)
    room = await new_room(queued_client, user)
    log = tmp_path / "worker.log"
    with worker(queued_app.state.runtime.settings, gemini_server[1], log):
        response = await queued_client.post(
            f"/chatroom/{room}/message", json={"content": "Anyone there?"}, headers=auth(user)
        )
    assert response.status_code == 502, (response.text, log.read_text()[-3000:])
    error = response.json()["error"]
    assert error["code"] == "chat_generation_failed"
    assert error["details"]["message"]["status"] == "failed"
    assert [c.status for c in gemini_fake.calls] == [
        500,
        500,
        500,
    ]  # OJA_LLM_MAX_ATTEMPTS, not more
    assert await remaining(queued_client, user) == 5
    status = (await queued_client.get(error["details"]["status_url"], headers=auth(user))).json()
    assert (status["status"], status["reply"]) == ("failed", None)
    assert json.loads(json.dumps(status))["error"].startswith("Gemini answered 500")
