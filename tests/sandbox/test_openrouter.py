"""The OpenRouter fake over real HTTP: its wire shapes, errors and knobs, and Oja's adapter on it."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator

import httpx
import pytest

from oja.core.ai import AISettings, Message, open_chat_model, open_embedder
from oja.core.ai.local import hashed_vector
from oja.sandbox.openrouter import DEFAULT_API_KEY, OpenRouterFake
from tests.fakes import serving

AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
CHAT = {
    "model": "openai/gpt-4o-mini",
    "messages": [{"role": "user", "content": "Lagos is large. Markets open early."}],
}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[OpenRouterFake, str]]:
    yield from serving(OpenRouterFake())


@pytest.fixture
def fake(served: tuple[OpenRouterFake, str]) -> OpenRouterFake:
    served[0].reset()
    return served[0]


@pytest.fixture
def url(served: tuple[OpenRouterFake, str]) -> str:
    return served[1]


def test_chat_completion_shape(fake: OpenRouterFake, url: str) -> None:
    response = httpx.post(f"{url}/chat/completions", json=CHAT, headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "openai/gpt-4o-mini"
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Lagos is large. Markets open early.",
        "refusal": None,
    }
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 9, "completion_tokens": 9, "total_tokens": 18}
    assert httpx.post(f"{url}/chat/completions", json=CHAT, headers=AUTH).json()["id"] == body["id"]
    assert [(c.path, c.status) for c in fake.calls] == [("/chat/completions", 200)] * 2


def test_json_schema_response_format(url: str) -> None:
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["document_type"],
        "properties": {"document_type": {"type": "string", "enum": ["letter", "other"]}},
    }
    body = {
        **CHAT,
        "messages": [{"role": "user", "content": "Dear Ada,\nThanks.\nYours sincerely,\nBola"}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "x", "strict": True, "schema": schema},
        },
    }
    content = httpx.post(f"{url}/chat/completions", json=body, headers=AUTH).json()["choices"][0][
        "message"
    ]["content"]
    assert json.loads(content) == {"document_type": "letter"}


def test_streaming_is_sse_chunks_ending_in_done(url: str) -> None:
    with httpx.stream(
        "POST", f"{url}/chat/completions", json={**CHAT, "stream": True}, headers=AUTH
    ) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert (
        "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
        == "Lagos is large. Markets open early."
    )
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["total_tokens"] == 18


def test_errors_have_openrouters_shape(fake: OpenRouterFake, url: str) -> None:
    missing = httpx.post(f"{url}/chat/completions", json=CHAT)
    assert (missing.status_code, missing.json()) == (
        401,
        {"error": {"message": "No auth credentials found", "code": 401}},
    )
    fake.fail_next(1, status=429, retry_after=3)
    limited = httpx.post(f"{url}/chat/completions", json=CHAT, headers=AUTH)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "3"
    assert limited.json() == {
        "error": {"message": "Rate limit exceeded: free-models-per-min", "code": 429}
    }
    fake.fail_next(1, status=500)
    broken = httpx.post(f"{url}/chat/completions", json=CHAT, headers=AUTH)
    assert broken.json() == {"error": {"message": "Internal Server Error", "code": 500}}
    assert httpx.post(f"{url}/chat/completions", json=CHAT, headers=AUTH).status_code == 200
    assert [c.status for c in fake.calls] == [401, 429, 500, 200]
    assert (
        httpx.post(f"{url}/chat/completions", json={"model": "m"}, headers=AUTH).status_code == 400
    )


def test_embeddings_are_deterministic_and_fixed_size(url: str) -> None:
    body = {"model": "openai/text-embedding-3-small", "input": ["alpha beta", "gamma"]}
    data = httpx.post(f"{url}/embeddings", json=body, headers=AUTH).json()
    assert [d["index"] for d in data["data"]] == [0, 1]
    assert data["data"][0]["embedding"] == hashed_vector("alpha beta", 64)
    packed = httpx.post(
        f"{url}/embeddings", json={**body, "encoding_format": "base64"}, headers=AUTH
    ).json()
    raw = base64.b64decode(packed["data"][1]["embedding"])
    assert list(struct.unpack("<64f", raw)) == pytest.approx(hashed_vector("gamma", 64), abs=1e-6)


async def test_oja_adapter_against_the_fake(fake: OpenRouterFake, url: str) -> None:
    settings = AISettings(openrouter_base_url=url, openrouter_api_key=DEFAULT_API_KEY)
    messages = [Message("user", "The invoice is due soon. Please pay it.")]
    async with open_chat_model(settings, "openrouter") as model:
        completion = await model.complete(messages)
        deltas = [d async for d in model.stream(messages)]
    assert completion.text == "The invoice is due soon. Please pay it."
    assert (completion.provider, completion.model) == ("openrouter", "openai/gpt-4o-mini")
    assert completion.usage.prompt_tokens == 10
    assert "".join(deltas) == completion.text
    async with open_embedder(settings) as embedder:
        vectors = await embedder.embed(["one", "two three"])
    assert vectors == [
        pytest.approx(hashed_vector("one", 64)),
        pytest.approx(hashed_vector("two three", 64)),
    ]
    assert fake.calls_to("/embeddings")[0].body["encoding_format"] == "float"
