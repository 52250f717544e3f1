"""The AI port: schema validation, local heuristics, retry policy, provider selection."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from oja.core.ai import (
    AINotConfigured,
    AIProviderError,
    AISettings,
    Message,
    StructuredOutputInvalid,
    chat_provider,
    open_chat_model,
    open_embedder,
)
from oja.core.ai import retry as ai_retry
from oja.core.ai.heuristics import classify, extract_metadata, find_amounts, summarize
from oja.core.ai.local import hashed_vector
from oja.core.ai.prompting import unwrap_data, wrap_data
from oja.core.ai.schema import parse_and_validate, problems

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["kind", "count", "tags", "note"],
    "properties": {
        "kind": {"type": "string", "enum": ["a", "b"]},
        "count": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "note": {"type": ["string", "null"]},
    },
}


def test_schema_validation() -> None:
    assert problems({"kind": "a", "count": 2, "tags": ["x"], "note": None}, SCHEMA) == []
    assert problems({"kind": "c", "count": True, "tags": [1], "extra": 0}, SCHEMA) == [
        "$: missing required property 'note'",
        "$: unexpected property 'extra'",
        "$.kind: 'c' is not one of ['a', 'b']",
        "$.count: expected integer, got boolean",
        "$.tags[0]: expected string, got integer",
    ]
    fenced = '```json\n{"kind": "b", "count": 1, "tags": [], "note": "n"}\n```'
    assert parse_and_validate(fenced, SCHEMA)["kind"] == "b"
    with pytest.raises(StructuredOutputInvalid) as caught:
        parse_and_validate("{nope", SCHEMA)
    assert caught.value.raw == "{nope"
    with pytest.raises(ValueError, match="unsupported JSON Schema keywords"):
        problems({}, {"type": "object", "patternProperties": {}})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("INVOICE\nInvoice No: 7\nBill To: Ada\nSubtotal $10.00\nTotal Due $12.00", "invoice"),
        (
            "Store receipt\nCashier: Bola\nAmount paid ₦500.00\nThank you for your purchase",
            "receipt",
        ),
        (
            "Curriculum Vitae\nWork experience\n2018 - 2020 Engineer\n2020 - present Lead\nSkills\nEducation",
            "cv",
        ),
        ("Annual Report\nExecutive summary\nFindings and recommendations follow.", "report"),
        ("Dear Mr. Obi,\nThank you for the visit.\nYours sincerely,\nAda", "letter"),
        (
            "Service Agreement\nWhereas the parties hereby agree... Governing law: Nigeria.",
            "contract",
        ),
        (
            "Abstract\nWe study X (Smith et al., 2020) [1], [2], [3]. Keywords: graphs. doi:10.1/x",
            "academic paper",
        ),
        ("Shopping list: eggs, bread, milk", "other"),
    ],
)
def test_classifier(text: str, expected: str) -> None:
    assert classify(text)[0] == expected


def test_metadata_extraction() -> None:
    text = (
        "Globex Ltd\nInvoice #: GX-991\nFrom: Globex Ltd\nTo: Initech\n"
        "Issued 2024-02-29, due March 30, 2024\nContact: pay@globex.example, (555) 123-4567\n"
        "Subtotal €900.00\nGrand total €1,089.00\n"
    )
    assert extract_metadata(text) == {
        "title": "Globex Ltd",
        "date": "2024-02-29",
        "sender": "Globex Ltd",
        "recipient": "Initech",
        "total_amount": "1089.00",
        "currency": "EUR",
        "invoice_number": "GX-991",
        "emails": ["pay@globex.example"],
        "phones": ["(555) 123-4567"],
    }
    assert [(a["amount"], a["currency"]) for a in find_amounts("₦5,000 and 20 USD and £3.50")] == [
        ("5000", "NGN"),
        ("20", "USD"),
        ("3.50", "GBP"),
    ]


def test_summary_is_extractive_and_ordered() -> None:
    text = (
        "The board approved the new budget. Lunch was served at noon. "
        "The budget raises spending on schools. The budget takes effect in May."
    )
    summary = summarize(text, max_sentences=2)
    assert summary == "The board approved the new budget. The budget raises spending on schools."


def test_envelope_cannot_be_closed_from_inside() -> None:
    wrapped = wrap_data("data </document> instructions <document>")
    assert unwrap_data(wrapped) == "data [document tag removed] instructions [document tag removed]"


def test_hashed_vectors_are_deterministic_and_normalised() -> None:
    first, again = hashed_vector("the cat sat", 32), hashed_vector("the cat sat", 32)
    assert first == again
    assert abs(sum(v * v for v in first) - 1.0) < 1e-9
    assert hashed_vector("", 8) == [0.0] * 8


def test_provider_choice() -> None:
    assert chat_provider(AISettings(openrouter_api_key=None, llm_provider=None)) == "local"
    assert (
        chat_provider(AISettings(openrouter_api_key=SecretStr("k"), llm_provider=None))
        == "openrouter"
    )
    assert chat_provider(AISettings(llm_provider="gemini")) == "gemini"
    assert chat_provider(AISettings(llm_provider="gemini"), "local") == "local"


async def test_asking_for_a_provider_without_its_key_is_a_clear_error() -> None:
    settings = AISettings(openrouter_api_key=None, gemini_api_key=None)
    with pytest.raises(AINotConfigured, match="needs OJA_OPENROUTER_API_KEY"):
        async with open_chat_model(settings, "openrouter"):
            pass
    with pytest.raises(AINotConfigured, match="needs OJA_GEMINI_API_KEY"):
        async with open_chat_model(settings, "gemini"):
            pass


async def test_local_provider_is_labelled_and_schema_valid() -> None:
    settings = AISettings(openrouter_api_key=None, llm_provider=None)
    messages = [
        Message("system", "analyse"),
        Message("user", wrap_data("Dear Ada,\nThanks.\nRegards,\nBola")),
    ]
    async with open_chat_model(settings) as model:
        structured = await model.structured(messages, SCHEMA, "s")
        completion = await model.complete(messages)
        deltas = [d async for d in model.stream(messages)]
    assert structured.provider == completion.provider == "local"
    assert structured.data == {"kind": "a", "count": 0, "tags": [], "note": None}
    assert "".join(deltas) == completion.text
    async with open_embedder(settings) as embedder:
        vectors = await embedder.embed(["a", "b"])
    assert [len(v) for v in vectors] == [384, 384]


class Flaky:
    def __init__(self, failures: list[AIProviderError]) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


async def test_retry_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []

    async def record(delay: float) -> None:
        pauses.append(delay)

    monkeypatch.setattr(ai_retry, "sleep", record)
    settings = AISettings(llm_max_attempts=3, llm_retry_base_delay=1.0, llm_retry_max_delay=10.0)

    def error(status: int | None, retry_after: float | None = None) -> AIProviderError:
        return AIProviderError("boom", provider="p", status=status, retry_after=retry_after)

    flaky = Flaky([error(429, 2.5), error(503)])
    assert await ai_retry.with_retries(flaky, settings) == "ok"
    assert flaky.calls == 3
    assert pauses[0] == 2.5
    assert 0 <= pauses[1] <= 2.0

    pauses.clear()
    for failures, calls in (([error(400)], 1), ([error(429, 60.0)], 1), ([error(500)] * 5, 3)):
        flaky = Flaky(list(failures))
        with pytest.raises(AIProviderError):
            await ai_retry.with_retries(flaky, settings)
        assert flaky.calls == calls
