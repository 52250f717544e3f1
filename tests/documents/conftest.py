"""Helpers for documents tests: users and keys through the identity API, jobs run in-process, AI
settings from the environment, and the OpenRouter fake over real HTTP."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from oja.core.ai import retry as ai_retry
from oja.sandbox.openrouter import DEFAULT_API_KEY, OpenRouterFake
from tests.conftest import set_env
from tests.fakes import serving

PASSWORD = "correct horse battery"
_emails = itertools.count()


@pytest.fixture(autouse=True)
def ai_env(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The local provider unless a test says otherwise; retry pauses recorded, not slept."""
    for name in ("OJA_OPENROUTER_API_KEY", "OJA_GEMINI_API_KEY", "OJA_LLM_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    set_env(monkeypatch, OJA_LLM_PROVIDER="local")
    pauses: list[float] = []

    async def record(delay: float) -> None:
        pauses.append(delay)

    monkeypatch.setattr(ai_retry, "sleep", record)
    return pauses


@pytest.fixture(scope="session")
def openrouter_server() -> Iterator[tuple[OpenRouterFake, str]]:
    yield from serving(OpenRouterFake())


@pytest.fixture
def openrouter(
    openrouter_server: tuple[OpenRouterFake, str], monkeypatch: pytest.MonkeyPatch, app: Any
) -> OpenRouterFake:
    """The fake, reset, with the app's settings pointing at it."""
    fake, url = openrouter_server
    fake.reset()
    set_env(
        monkeypatch,
        app,
        OJA_LLM_PROVIDER="openrouter",
        OJA_OPENROUTER_BASE_URL=url,
        OJA_OPENROUTER_API_KEY=DEFAULT_API_KEY,
    )
    return fake


async def token_for(client: httpx.AsyncClient) -> str:
    email = f"doc-user{next(_emails)}@example.com"
    response = await client.post("/auth/signup", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return str(login.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def api_key(client: httpx.AsyncClient, token: str, scopes: list[str]) -> str:
    response = await client.post(
        "/keys/create", json={"name": "docs", "scopes": scopes}, headers=bearer(token)
    )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    data: bytes,
    filename: str = "doc.pdf",
    content_type: str = "application/octet-stream",
) -> httpx.Response:
    return await client.post(
        "/documents/upload", files={"file": (filename, data, content_type)}, headers=headers
    )


async def uploaded_id(
    client: httpx.AsyncClient, headers: dict[str, str], data: bytes, filename: str = "doc.pdf"
) -> str:
    response = await upload(client, headers, data, filename)
    assert response.status_code == 201, response.text
    return str(response.json()["document_id"])
