"""Helpers for retrieval tests: users through the identity API, documents written straight to the
table (or uploaded through the documents pipeline), and AI settings; jobs run in-process through the
shared ``jobs`` fixture (tests/conftest.py)."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import httpx
import pytest

from oja.core.ai import retry as ai_retry
from oja.core.db import unit_of_work
from oja.rag import service
from oja.rag.eval import text_document
from tests.conftest import set_env

PASSWORD = "correct horse battery"
_emails = itertools.count()


@pytest.fixture(autouse=True)
def ai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Local chat and MiniLM embeddings unless a test says otherwise; retry pauses not slept."""
    for name in (
        "OJA_OPENROUTER_API_KEY",
        "OJA_GEMINI_API_KEY",
        "OJA_LLM_PROVIDER",
        "OJA_EMBEDDING_PROVIDER",
        "OJA_CHROMA_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    set_env(monkeypatch, OJA_LLM_PROVIDER="local")

    async def no_sleep(delay: float) -> None:
        return None

    monkeypatch.setattr(ai_retry, "sleep", no_sleep)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def user(client: httpx.AsyncClient) -> tuple[uuid.UUID, dict[str, str]]:
    """A new user's id and auth headers."""
    email = f"rag-user{next(_emails)}@example.com"
    response = await client.post("/auth/signup", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    headers = bearer(login.json()["access_token"])
    me = await client.get("/user/me", headers=headers)
    return uuid.UUID(me.json()["id"]), headers


async def add_document(
    app: Any, owner_id: uuid.UUID, text: str, filename: str = "notes.txt"
) -> uuid.UUID:
    """A document row with extracted text, as the documents pipeline leaves it."""
    document_id = uuid.uuid4()
    async with unit_of_work(app.state.runtime.database) as session:
        document = text_document(document_id, owner_id, filename, text)
        document.storage_key = f"documents/{owner_id}/{document_id}/original"
        session.add(document)
    return document_id


async def index(app: Any, document_id: uuid.UUID) -> service.Indexed | None:
    async with unit_of_work(app.state.runtime.database) as session:
        return await service.index_document(session, app.state.runtime, document_id)
