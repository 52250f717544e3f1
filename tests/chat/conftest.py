"""Chat test helpers: users through the identity API, Pro granted through billing's tables, jobs
captured and run in-process (or inline), chat and AI settings per test, the Gemini fake over HTTP."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from oja.billing.models import Subscription
from oja.chat.config import ChatSettings
from oja.core.ai import retry as ai_retry
from oja.core.clock import utcnow
from oja.core.config import Settings
from oja.core.db import unit_of_work
from oja.core.ids import uuid7
from oja.sandbox.gemini import DEFAULT_API_KEY, GeminiFake
from tests.conftest import Jobs, make_settings, service_url, use_settings
from tests.fakes import serving

PASSWORD = "correct horse battery"
GENAI_STREAM_WARNING = pytest.mark.filterwarnings(
    # google-genai streams through aiohttp and subclasses its ClientSession when first used.
    "ignore:Inheritance class AiohttpClientSession from ClientSession is discouraged"
    ":DeprecationWarning"
)
_emails = itertools.count()


CHAT_SETTINGS: dict[str, Any] = {
    "chat_wait_seconds": 0,  # a send answers 202 unless a test runs its job inline
    # A fresh provider client per job: a kept one would outlive the test's event loop.
    "chat_reuse_provider_client": False,
}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, **CHAT_SETTINGS)


def use_chat(app: Any, **values: Any) -> ChatSettings:
    return use_settings(app, **values).section(ChatSettings)


@pytest.fixture(autouse=True)
def ai_env(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The local provider unless a test points Oja at the Gemini fake; retry pauses recorded."""
    for name in ("OJA_OPENROUTER_API_KEY", "OJA_GEMINI_API_KEY", "OJA_LLM_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    pauses: list[float] = []

    async def record(delay: float) -> None:
        pauses.append(delay)

    monkeypatch.setattr(ai_retry, "sleep", record)
    return pauses


@pytest.fixture(scope="session")
def gemini_server() -> Iterator[tuple[GeminiFake, str]]:
    yield from serving(GeminiFake())


@pytest.fixture
def gemini_fake(gemini_server: tuple[GeminiFake, str]) -> GeminiFake:
    """The Gemini fake, reset."""
    fake, _ = gemini_server
    fake.reset()
    fake.latency = 0.0
    return fake


@pytest.fixture
def gemini(gemini_fake: GeminiFake, gemini_server: tuple[GeminiFake, str], app: Any) -> GeminiFake:
    """The Gemini fake, reset, with the app's AI settings pointing at it."""
    use_settings(app, gemini_base_url=gemini_server[1], gemini_api_key=DEFAULT_API_KEY)
    return gemini_fake


@pytest.fixture
def redis_url() -> str:
    return service_url("redis")


@pytest.fixture
async def redis_app(
    tmp_path: Path, database_url: str, redis_url: str, jobs: Jobs
) -> AsyncIterator[Any]:
    """The app with Redis behind its cache, quotas and reply streams."""
    from oja.main import create_app

    settings = make_settings(tmp_path, database_url, redis_url=redis_url, **CHAT_SETTINGS)
    application = create_app(settings, publisher=jobs)
    yield application
    await application.state.runtime.close()


@pytest.fixture
async def redis_client(redis_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=redis_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def new_user(client: httpx.AsyncClient) -> dict[str, str]:
    """Sign up and log in; ``{"id", "Authorization"}``."""
    email = f"chatter{next(_emails)}-{uuid.uuid4().hex[:6]}@example.com"
    created = await client.post("/auth/signup", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"id": created.json()["id"], "Authorization": f"Bearer {login.json()['access_token']}"}


def auth(user: dict[str, str]) -> dict[str, str]:
    return {"Authorization": user["Authorization"]}


async def make_pro(app: Any, user: dict[str, str]) -> None:
    """An active Pro subscription, as billing stores one after Stripe's webhook."""
    now = utcnow()
    async with unit_of_work(app.state.runtime.database) as session:
        session.add(
            Subscription(
                id=uuid7(),
                user_id=uuid.UUID(user["id"]),
                provider="stripe",
                provider_subscription_id=f"sub_test_{uuid.uuid4().hex[:12]}",
                plan_code="chat_pro",
                status="active",
                created_at=now,
                updated_at=now,
            )
        )


async def new_room(client: httpx.AsyncClient, user: dict[str, str], title: str = "Room") -> str:
    response = await client.post("/chatroom", json={"title": title}, headers=auth(user))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def remaining(client: httpx.AsyncClient, user: dict[str, str]) -> int | None:
    response = await client.get("/subscription/status", headers=auth(user))
    assert response.status_code == 200, response.text
    value = response.json()["usage"]["remaining"]
    return None if value is None else int(value)
