"""The ``local`` provider: offline and deterministic, always labelled ``provider: "local"``.

It does not pretend to be a language model: ``complete`` returns an extractive summary of the data
it was given, and ``structured`` fills the requested schema from :mod:`oja.core.ai.heuristics`
(summary, document type over the schema's own enum, regex metadata). Token counts are estimates.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from oja.core.ai import heuristics
from oja.core.ai.base import Completion, Message, Structured, Usage
from oja.core.ai.prompting import estimate_tokens, unwrap_data
from oja.core.ai.schema import parse_and_validate

PROVIDER = "local"
MODEL = "oja-local-extractive-1"
EMBEDDING_MODEL = "oja-local-hashing-1"


def subject_text(messages: Sequence[Message]) -> str:
    """What the request is about: the enveloped data in the user messages, else the last user turn."""
    user = [m.content for m in messages if m.role == "user"]
    wrapped = [data for data in (unwrap_data(c) for c in user) if data is not None]
    if wrapped:
        return "\n\n".join(wrapped)
    return user[-1] if user else ""


def _usage(messages: Sequence[Message], output: str) -> Usage:
    prompt = sum(estimate_tokens(m.content) for m in messages)
    return Usage(prompt_tokens=prompt, completion_tokens=estimate_tokens(output))


def analyse(text: str) -> dict[str, Any]:
    """Summary, document type and metadata of ``text``, all from heuristics."""
    document_type, _ = heuristics.classify(text)
    return {
        "summary": heuristics.summarize(text),
        "document_type": document_type,
        "metadata": heuristics.extract_metadata(text),
    }


def fill_schema(schema: dict[str, Any], analysis: dict[str, Any], name: str = "") -> Any:
    """A value for ``schema`` taken from ``analysis`` by property name; conforms by construction."""
    if "anyOf" in schema:
        return fill_schema(schema["anyOf"][0], analysis, name)
    types = schema.get("type", "object")
    types = types if isinstance(types, list) else [types]
    nullable = "null" in types
    kind = next((t for t in types if t != "null"), "null")
    found = analysis.get(name, analysis.get("metadata", {}).get(name))
    if "enum" in schema:
        options = schema["enum"]
        if found in options:
            return found
        return "other" if "other" in options else (None if nullable else options[0])
    if kind == "object":
        nested = found if isinstance(found, dict) else {}
        source = {**analysis, **nested} if nested else analysis
        return {
            prop: fill_schema(sub, source, prop)
            for prop, sub in schema.get("properties", {}).items()
        }
    if kind == "array":
        items = found if isinstance(found, list) else []
        return [fill_schema(schema.get("items", {}), {"_": i}, "_") for i in items]
    if kind == "string":
        if isinstance(found, str):
            return found[: schema.get("maxLength", len(found))]
        return None if nullable else ""
    if kind in ("number", "integer"):
        try:
            number = float(found) if found is not None else None
        except (TypeError, ValueError):
            number = None
        if number is None:
            return None if nullable else 0
        return int(number) if kind == "integer" else number
    if kind == "boolean":
        return bool(found) if isinstance(found, bool) else (None if nullable else False)
    return None


class LocalChat:
    provider = PROVIDER
    model = MODEL

    async def complete(self, messages: Sequence[Message]) -> Completion:
        text = heuristics.summarize(subject_text(messages)) or "(no text to summarise)"
        return Completion(text, _usage(messages, text), PROVIDER, MODEL)

    async def stream(self, messages: Sequence[Message]) -> AsyncIterator[str]:
        completion = await self.complete(messages)
        for piece in re.findall(r"\S+\s*", completion.text):
            yield piece

    async def structured(
        self, messages: Sequence[Message], json_schema: dict[str, Any], name: str
    ) -> Structured:
        value = fill_schema(json_schema, analyse(subject_text(messages)))
        raw = json.dumps(value, ensure_ascii=False)
        data = parse_and_validate(raw, json_schema)  # the same check every provider's output gets
        return Structured(data, _usage(messages, raw), PROVIDER, MODEL, raw)


def hashed_vector(text: str, dimensions: int) -> list[float]:
    """Feature hashing of words and word pairs, signed, L2-normalised: similar texts, close vectors."""
    vector = [0.0] * dimensions
    tokens = heuristics.words(text)
    features = tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
    for feature in features:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "big") % dimensions
        vector[index] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector] if norm else vector


class LocalEmbedder:
    provider = PROVIDER
    model = EMBEDDING_MODEL

    def __init__(self, dimensions: int = 384) -> None:
        self.dimensions = dimensions

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [hashed_vector(text, self.dimensions) for text in texts]
