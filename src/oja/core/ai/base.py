"""The AI port: what Oja asks of a chat model and of an embedder, whoever provides them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    usage: Usage
    provider: str
    model: str


@dataclass(frozen=True, slots=True)
class Structured:
    """A reply parsed as JSON and validated against the schema it was asked for."""

    data: dict[str, Any]
    usage: Usage
    provider: str
    model: str
    raw: str = field(repr=False, default="")


class ChatModel(Protocol):
    """A chat model. Implementations raise :class:`~oja.core.ai.errors.AIProviderError` for provider
    failures (after their retries) and :class:`~oja.core.ai.errors.StructuredOutputInvalid` when a
    structured reply does not match its schema."""

    provider: str
    model: str

    async def complete(self, messages: Sequence[Message]) -> Completion: ...

    def stream(self, messages: Sequence[Message]) -> AsyncIterator[str]:
        """Text deltas as the model produces them."""
        ...

    async def structured(
        self, messages: Sequence[Message], json_schema: dict[str, Any], name: str
    ) -> Structured: ...


class Embedder(Protocol):
    provider: str
    model: str

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order, all of the same dimension."""
        ...
