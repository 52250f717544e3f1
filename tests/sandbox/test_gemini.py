"""The Gemini fake over real HTTP, and Oja's google-genai adapter against it (complete + stream)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from oja.core.ai import AIProviderError, AISettings, Message, open_chat_model
from oja.core.ai import retry as ai_retry
from oja.core.ai.prompting import wrap_data
from oja.sandbox.gemini import DEFAULT_API_KEY, GeminiFake
from tests.fakes import serving

BODY = {
    "contents": [{"role": "user", "parts": [{"text": "Tell me about Lagos. It is a big city."}]}]
}
PATH = "/v1beta/models/gemini-2.0-flash:generateContent"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[GeminiFake, str]]:
    yield from serving(GeminiFake())


@pytest.fixture
def fake(served: tuple[GeminiFake, str]) -> GeminiFake:
    served[0].reset()
    served[0].latency = 0.0
    return served[0]


@pytest.fixture
def url(served: tuple[GeminiFake, str]) -> str:
    return served[1]


def test_generate_content_shape_with_header_or_query_key(fake: GeminiFake, url: str) -> None:
    by_header = httpx.post(url + PATH, json=BODY, headers={"x-goog-api-key": DEFAULT_API_KEY})
    by_query = httpx.post(url + PATH, params={"key": DEFAULT_API_KEY}, json=BODY)
    assert by_header.status_code == by_query.status_code == 200
    body = by_header.json()
    assert body["candidates"][0]["content"] == {
        "parts": [{"text": "Tell me about Lagos. It is a big city."}],
        "role": "model",
    }
    assert body["candidates"][0]["finishReason"] == "STOP"
    assert body["usageMetadata"] == {
        "promptTokenCount": 10,
        "candidatesTokenCount": 10,
        "totalTokenCount": 20,
    }
    assert by_query.json() == body
    assert [(c.model, c.method, c.status) for c in fake.calls] == [
        ("gemini-2.0-flash", "generateContent", 200)
    ] * 2


def test_errors_have_googles_shape(fake: GeminiFake, url: str) -> None:
    missing = httpx.post(url + PATH, json=BODY)
    assert missing.status_code == 401
    assert missing.json()["error"]["status"] == "UNAUTHENTICATED"
    wrong = httpx.post(url + PATH, json=BODY, headers={"x-goog-api-key": "nope"})
    assert wrong.status_code == 400
    assert wrong.json()["error"]["message"] == "API key not valid. Please pass a valid API key."
    fake.fail_next(1, status=429, retry_delay=7)
    limited = httpx.post(url + PATH, json=BODY, headers={"x-goog-api-key": DEFAULT_API_KEY})
    assert limited.json() == {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}],
        }
    }
    fake.fail_next(1, status=500)
    broken = httpx.post(url + PATH, json=BODY, headers={"x-goog-api-key": DEFAULT_API_KEY})
    assert (broken.status_code, broken.json()["error"]["status"]) == (500, "INTERNAL")


def test_sse_stream(url: str) -> None:
    stream_path = PATH.replace("generateContent", "streamGenerateContent")
    with httpx.stream(
        "POST",
        url + stream_path,
        params={"alt": "sse"},
        json=BODY,
        headers={"x-goog-api-key": DEFAULT_API_KEY},
    ) as response:
        chunks = [
            json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")
        ]
    text = "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks)
    assert text == "Tell me about Lagos. It is a big city."
    assert len(chunks) > 1
    assert [c["candidates"][0].get("finishReason") for c in chunks][-1] == "STOP"


def test_latency_knob(fake: GeminiFake, url: str) -> None:
    fake.latency = 0.2
    response = httpx.post(url + PATH, json=BODY, headers={"x-goog-api-key": DEFAULT_API_KEY})
    assert response.elapsed.total_seconds() >= 0.2


async def test_gemini_provider_complete_stream_structured(
    fake: GeminiFake, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pauses: list[float] = []

    async def record(delay: float) -> None:
        pauses.append(delay)

    monkeypatch.setattr(ai_retry, "sleep", record)
    settings = AISettings(gemini_base_url=url, gemini_api_key=DEFAULT_API_KEY)
    messages = [
        Message("system", "Be brief."),
        Message("user", "Lagos is a big city. It is in Nigeria."),
    ]
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["document_type"],
        "properties": {"document_type": {"type": "string", "enum": ["letter", "other"]}},
    }
    fake.fail_next(1, status=429, retry_delay=2)
    async with open_chat_model(settings, "gemini") as model:
        completion = await model.complete(messages)
        deltas = [d async for d in model.stream(messages)]
        structured = await model.structured(
            [Message("user", wrap_data("Dear Ada,\nThanks.\nYours sincerely,\nBola"))], schema, "x"
        )
    assert completion.text == "Lagos is a big city. It is in Nigeria."
    assert (completion.provider, completion.model) == ("gemini", "gemini-2.0-flash")
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (13, 10)
    assert "".join(deltas) == completion.text
    assert len(deltas) > 1
    assert structured.data == {"document_type": "letter"}
    assert pauses == [2.0]  # RetryInfo.retryDelay obeyed
    first_ok = next(c for c in fake.calls if c.status == 200)
    assert first_ok.body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert [c.method for c in fake.calls] == [
        "generateContent",
        "generateContent",
        "streamGenerateContent",
        "generateContent",
    ]
    assert fake.calls[-1].body["generationConfig"]["responseJsonSchema"] == schema


async def test_gemini_provider_errors(fake: GeminiFake, url: str) -> None:
    bad = AISettings(gemini_base_url=url, gemini_api_key="wrong")
    async with open_chat_model(bad, "gemini") as model:
        with pytest.raises(AIProviderError) as caught:
            await model.complete([Message("user", "hi")])
    assert (
        caught.value.message
        == "Gemini answered 400 INVALID_ARGUMENT: API key not valid. Please pass a valid API key."
    )
    assert caught.value.status_code == 502
