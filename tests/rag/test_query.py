"""``POST /query`` over HTTP: owner isolation, not-found answers, scopes, checked citations, with the
local provider and with OpenRouter (its fake, over real HTTP)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from oja.rag.answering import NOT_FOUND
from oja.sandbox.openrouter import DEFAULT_API_KEY, OpenRouterFake
from tests.fakes import serving
from tests.rag.conftest import add_document, index, set_env, user

LEASE = (
    "Office lease renewal for suite 4B. The renewed term is three years starting 1 April. "
    "Rent rises by 8 percent in the first year of the new term and is then fixed.\n\n"
    "The tenant may end the lease early by giving six months of written notice and paying a "
    "break fee equal to two months of rent."
)
BEES = (
    "Zaria Honey Cooperative report. The cooperative has 214 member beekeepers who keep Kenyan "
    "top-bar hives. The main harvest runs from November to February."
)
LEASE_QUESTION = "How much notice is needed to end the office lease early?"

pytestmark = pytest.mark.usefixtures("database_url")


async def ask(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post("/query", json=body, headers=headers)


async def test_one_users_chunks_never_reach_another(app: Any, client: httpx.AsyncClient) -> None:
    alice, alice_headers = await user(client)
    bob, bob_headers = await user(client)
    lease = await add_document(app, alice, LEASE, "lease.txt")
    await index(app, lease)
    await index(app, await add_document(app, bob, BEES, "bees.txt"))

    response = await ask(client, bob_headers, question=LEASE_QUESTION, top_k=20, min_score=-1)
    assert response.status_code == 200
    body = response.json()
    assert all(c["document_id"] != str(lease) for c in body["chunks"])
    assert body["answer"] == NOT_FOUND
    assert body["citations"] == []

    response = await ask(client, bob_headers, question=LEASE_QUESTION)
    assert response.json() == {
        "answer": NOT_FOUND,
        "chunks": [],
        "citations": [],
        "provider": "local",
        "model": "oja-rag-extractive-1",
    }
    # Naming Alice's document does not help either.
    response = await ask(client, bob_headers, question=LEASE_QUESTION, document_ids=[str(lease)])
    assert response.json()["chunks"] == []

    answer = (await ask(client, alice_headers, question=LEASE_QUESTION)).json()
    [chunk] = answer["chunks"]
    assert (chunk["document_id"], chunk["filename"], chunk["chunk_index"]) == (
        str(lease),
        "lease.txt",
        0,
    )
    assert chunk["text"] == LEASE
    assert 0.25 <= chunk["score"] <= 1
    assert "six months of written notice" in answer["answer"]
    assert answer["citations"][0]["number"] == 1
    assert answer["citations"][0]["document_id"] == str(lease)
    for citation in answer["citations"]:
        assert citation["quote"] in LEASE
    assert (answer["provider"], answer["model"]) == ("local", "oja-rag-extractive-1")


async def test_a_question_the_documents_do_not_answer(app: Any, client: httpx.AsyncClient) -> None:
    owner, headers = await user(client)
    await index(app, await add_document(app, owner, LEASE))
    await index(app, await add_document(app, owner, BEES))
    body = (await ask(client, headers, question="What is the boiling point of mercury?")).json()
    assert body == {
        "answer": NOT_FOUND,
        "chunks": [],
        "citations": [],
        "provider": "local",
        "model": "oja-rag-extractive-1",
    }


async def test_scope_and_validation(app: Any, client: httpx.AsyncClient) -> None:
    _, headers = await user(client)
    assert (await client.post("/query", json={"question": "x"})).status_code == 401
    for scopes, status in ((["documents:read"], 403), (["query"], 200)):
        created = await client.post(
            "/keys/create", json={"name": "rag", "scopes": scopes}, headers=headers
        )
        key = {"X-API-Key": created.json()["key"]}
        assert (await ask(client, key, question="Anything?")).status_code == status
    bad_bodies: list[dict[str, object]] = [
        {"question": ""},
        {"question": "x", "top_k": 0},
        {"question": "x", "top_k": 21},
        # JSON booleans are not numbers (the fuzzer's find: lax parsing read false as 0.0).
        {"question": "x", "top_k": True},
        {"question": "x", "min_score": False},
    ]
    for bad in bad_bodies:
        response = await client.post("/query", json=bad, headers=headers)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "validation_error"


@pytest.fixture(scope="module")
def openrouter_server() -> Iterator[tuple[OpenRouterFake, str]]:
    yield from serving(OpenRouterFake())


@pytest.fixture
def openrouter(
    openrouter_server: tuple[OpenRouterFake, str], monkeypatch: pytest.MonkeyPatch, app: Any
) -> OpenRouterFake:
    fake, url = openrouter_server
    fake.reset()
    set_env(
        monkeypatch,
        app,
        OJA_LLM_PROVIDER="openrouter",
        OJA_LLM_MODEL="openai/gpt-4o-mini",
        OJA_OPENROUTER_BASE_URL=url,
        OJA_OPENROUTER_API_KEY=DEFAULT_API_KEY,
    )
    return fake


async def test_openrouter_answer_with_invented_citations(
    app: Any, client: httpx.AsyncClient, openrouter: OpenRouterFake
) -> None:
    owner, headers = await user(client)
    lease = await add_document(app, owner, LEASE, "lease.txt")
    await index(app, lease)
    openrouter.script_replies(
        'Give "six months of written notice" [1] and pay a fee [9]. '
        'Pets are "welcome in every suite" [1].'
    )
    body = (await ask(client, headers, question=LEASE_QUESTION, top_k=3)).json()
    assert body["answer"] == (
        'Give "six months of written notice" [1] and pay a fee. Pets are "welcome in every suite".'
    )
    assert body["citations"] == [
        {
            "number": 1,
            "document_id": str(lease),
            "chunk_index": 0,
            "quote": "six months of written notice",
        }
    ]
    assert (body["provider"], body["model"]) == ("openrouter", "openai/gpt-4o-mini")
    [call] = openrouter.calls_to("/chat/completions")
    prompt = call.body["messages"][1]["content"]
    assert "[1] (from lease.txt, part 1)" in prompt
    assert LEASE in prompt

    openrouter.script_replies("It is in chunk [4], trust me.")
    body = (await ask(client, headers, question=LEASE_QUESTION)).json()
    assert (body["answer"], body["citations"]) == (NOT_FOUND, [])
    assert len(body["chunks"]) == 1  # what was retrieved is still shown


async def test_openrouter_embeddings(
    app: Any,
    client: httpx.AsyncClient,
    openrouter: OpenRouterFake,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_env(
        monkeypatch,
        app,
        OJA_EMBEDDING_PROVIDER="openrouter",
        OJA_EMBEDDING_MODEL="openai/text-embedding-3-small",
    )
    owner, headers = await user(client)
    lease = await add_document(app, owner, LEASE, "lease.txt")
    indexed = await index(app, lease)
    assert indexed is not None
    assert indexed.embedded == 1
    [embedding_call] = openrouter.calls_to("/embeddings")
    assert embedding_call.body["model"] == "openai/text-embedding-3-small"
    assert embedding_call.body["input"] == [LEASE]
    openrouter.script_replies('You must give "six months of written notice" [1].')
    body = (await ask(client, headers, question=LEASE_QUESTION, min_score=0)).json()
    assert body["citations"][0]["document_id"] == str(lease)
    assert len(openrouter.calls_to("/embeddings")) == 2  # the question, by the same model
    assert uuid.UUID(body["chunks"][0]["document_id"]) == lease
