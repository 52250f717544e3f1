"""The ``openrouter`` provider: OpenRouter's OpenAI-compatible API through the ``openai`` SDK.

The SDK's own retries are off (``max_retries=0``): :func:`~oja.core.ai.retry.with_retries` applies
one policy to every provider and honours ``Retry-After``. Structured output uses
``response_format={"type": "json_schema", "json_schema": {..., "strict": true}}`` and the reply is
still validated here, because not every model behind OpenRouter enforces the schema.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import openai
from openai.types.chat import ChatCompletionMessageParam

from oja.core.ai.base import Completion, Message, Structured, Usage
from oja.core.ai.config import AISettings
from oja.core.ai.errors import AINotConfigured, AIProviderError
from oja.core.ai.retry import with_retries
from oja.core.ai.schema import parse_and_validate
from oja.core.http import retry_after_seconds

PROVIDER = "openrouter"


def _client(settings: AISettings) -> openai.AsyncOpenAI:
    if settings.openrouter_api_key is None:
        raise AINotConfigured(
            "The openrouter provider needs OJA_OPENROUTER_API_KEY, which is not set.",
            feature=PROVIDER,
            settings=["OJA_OPENROUTER_API_KEY"],
        )
    return openai.AsyncOpenAI(
        api_key=settings.openrouter_api_key.get_secret_value(),
        base_url=settings.openrouter_base_url,
        timeout=settings.llm_timeout,
        max_retries=0,
        default_headers={"X-Title": "Oja"},
    )


def _provider_error(exc: openai.OpenAIError) -> AIProviderError:
    if isinstance(exc, openai.APIStatusError):
        body = exc.body
        message = None
        if isinstance(body, dict):
            inner = body.get("error", body)
            message = inner.get("message") if isinstance(inner, dict) else None
        retry_after = retry_after_seconds(exc.response.headers.get("retry-after"))
        return AIProviderError(
            f"OpenRouter answered {exc.status_code}: {message or exc.message}",
            provider=PROVIDER,
            status=exc.status_code,
            retry_after=retry_after,
        )
    if isinstance(exc, openai.APITimeoutError):
        return AIProviderError("OpenRouter did not answer in time.", provider=PROVIDER)
    if isinstance(exc, openai.APIConnectionError):
        return AIProviderError(f"OpenRouter could not be reached: {exc}", provider=PROVIDER)
    return AIProviderError(f"OpenRouter call failed: {exc}", provider=PROVIDER)


def _messages(messages: Sequence[Message]) -> list[ChatCompletionMessageParam]:
    converted: list[ChatCompletionMessageParam] = []
    for m in messages:
        if m.role == "system":
            converted.append({"role": "system", "content": m.content})
        elif m.role == "assistant":
            converted.append({"role": "assistant", "content": m.content})
        else:
            converted.append({"role": "user", "content": m.content})
    return converted


def _usage(raw: Any) -> Usage:
    if raw is None:
        return Usage()
    return Usage(raw.prompt_tokens or 0, raw.completion_tokens or 0)


class OpenRouterChat:
    provider = PROVIDER

    def __init__(self, settings: AISettings) -> None:
        self.settings = settings
        self.model = settings.llm_model
        self._client = _client(settings)

    async def aclose(self) -> None:
        await self._client.close()

    async def _create(self, messages: Sequence[Message], **extra: Any) -> tuple[str, Usage, str]:
        async def call() -> tuple[str, Usage, str]:
            try:
                response = await self._client.chat.completions.create(
                    model=self.model, messages=_messages(messages), **extra
                )
            except openai.OpenAIError as exc:
                raise _provider_error(exc) from exc
            if not response.choices:  # OpenRouter reports some upstream failures in a 200 body
                raise AIProviderError(
                    "OpenRouter returned no choices.", provider=PROVIDER, status=502
                )
            content = response.choices[0].message.content or ""
            return content, _usage(response.usage), response.model or self.model

        return await with_retries(call, self.settings)

    async def complete(self, messages: Sequence[Message]) -> Completion:
        text, usage, model = await self._create(messages)
        return Completion(text, usage, PROVIDER, model)

    async def stream(self, messages: Sequence[Message]) -> AsyncIterator[str]:
        async def start() -> Any:
            try:
                return await self._client.chat.completions.create(
                    model=self.model, messages=_messages(messages), stream=True
                )
            except openai.OpenAIError as exc:
                raise _provider_error(exc) from exc

        chunks = await with_retries(start, self.settings)  # retried only before the first delta
        try:
            async for chunk in chunks:
                for choice in chunk.choices:
                    if choice.delta.content:
                        yield choice.delta.content
        except openai.OpenAIError as exc:
            raise _provider_error(exc) from exc
        finally:
            await chunks.close()

    async def structured(
        self, messages: Sequence[Message], json_schema: dict[str, Any], name: str
    ) -> Structured:
        response_format: Any = {
            "type": "json_schema",
            "json_schema": {"name": name, "strict": True, "schema": json_schema},
        }
        raw, usage, model = await self._create(messages, response_format=response_format)
        return Structured(parse_and_validate(raw, json_schema), usage, PROVIDER, model, raw)


class OpenRouterEmbedder:
    provider = PROVIDER

    def __init__(self, settings: AISettings) -> None:
        self.settings = settings
        self.model = settings.embedding_model
        self._client = _client(settings)

    async def aclose(self) -> None:
        await self._client.close()

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []

        async def call() -> list[list[float]]:
            try:
                response = await self._client.embeddings.create(
                    model=self.model, input=list(texts), encoding_format="float"
                )
            except openai.OpenAIError as exc:
                raise _provider_error(exc) from exc
            ordered = sorted(response.data, key=lambda item: item.index)
            if len(ordered) != len(texts):
                raise AIProviderError(
                    f"OpenRouter returned {len(ordered)} embeddings for {len(texts)} texts.",
                    provider=PROVIDER,
                    status=502,
                )
            return [list(item.embedding) for item in ordered]

        return await with_retries(call, self.settings)
