"""The ``gemini`` provider: Google's Gemini API through the ``google-genai`` SDK.

``HttpOptions(base_url=OJA_GEMINI_BASE_URL)`` points the SDK at Google or at the sandbox fake. The
SDK's retries stay off; :func:`~oja.core.ai.retry.with_retries` obeys the ``RetryInfo.retryDelay``
that Gemini puts in a 429's error details.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import httpx2
from google import genai
from google.genai import errors, types

from oja.core.ai.base import Completion, Message, Structured, Usage
from oja.core.ai.config import AISettings
from oja.core.ai.errors import AINotConfigured, AIProviderError
from oja.core.ai.retry import with_retries
from oja.core.ai.schema import parse_and_validate

PROVIDER = "gemini"
# What a call can fail with besides a bug: the API's error, or the transport (either httpx line).
_CALL_ERRORS: tuple[type[Exception], ...] = (
    errors.APIError,
    httpx.HTTPError,
    httpx2.HTTPError,
    TimeoutError,
    OSError,
)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def retry_delay(details: Any) -> float | None:
    """Seconds from a ``google.rpc.RetryInfo`` entry of an error body, if any."""
    error = details.get("error", details) if isinstance(details, dict) else None
    entries = error.get("details", []) if isinstance(error, dict) else []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and str(entry.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DURATION.match(str(entry.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _provider_error(exc: Exception) -> AIProviderError:
    if isinstance(exc, errors.APIError):
        status = f" {exc.status}" if exc.status else ""
        return AIProviderError(
            f"Gemini answered {exc.code}{status}: {exc.message or exc.details}",
            provider=PROVIDER,
            status=exc.code,
            retry_after=retry_delay(exc.details),
        )
    return AIProviderError(f"Gemini could not be reached: {type(exc).__name__}", provider=PROVIDER)


def _contents(messages: Sequence[Message]) -> tuple[str | None, list[types.Content]]:
    system = "\n\n".join(m.content for m in messages if m.role == "system") or None
    contents = [
        types.Content(
            role="model" if m.role == "assistant" else "user", parts=[types.Part(text=m.content)]
        )
        for m in messages
        if m.role != "system"
    ]
    return system, contents


def _usage(response: types.GenerateContentResponse) -> Usage:
    meta = response.usage_metadata
    if meta is None:
        return Usage()
    return Usage(meta.prompt_token_count or 0, meta.candidates_token_count or 0)


class GeminiChat:
    provider = PROVIDER

    def __init__(self, settings: AISettings) -> None:
        if settings.gemini_api_key is None:
            raise AINotConfigured(
                "The gemini provider needs OJA_GEMINI_API_KEY, which is not set.",
                feature=PROVIDER,
                settings=["OJA_GEMINI_API_KEY"],
            )
        self.settings = settings
        self.model = settings.gemini_model
        self._client = genai.Client(
            api_key=settings.gemini_api_key.get_secret_value(),
            http_options=types.HttpOptions(
                base_url=settings.gemini_base_url,
                # v1beta carries systemInstruction and responseJsonSchema; newer SDKs default to v1.
                api_version="v1beta",
                timeout=int(settings.llm_timeout * 1000),
                retry_options=types.HttpRetryOptions(attempts=1),
            ),
        )

    async def aclose(self) -> None:
        await self._client.aio.aclose()

    def _config(self, system: str | None, **extra: Any) -> types.GenerateContentConfig:
        return types.GenerateContentConfig(system_instruction=system, **extra)

    async def _generate(
        self, messages: Sequence[Message], **extra: Any
    ) -> types.GenerateContentResponse:
        system, contents = _contents(messages)

        async def call() -> types.GenerateContentResponse:
            try:
                return await self._client.aio.models.generate_content(
                    model=self.model, contents=contents, config=self._config(system, **extra)
                )
            except _CALL_ERRORS as exc:
                raise _provider_error(exc) from exc

        return await with_retries(call, self.settings)

    async def complete(self, messages: Sequence[Message]) -> Completion:
        response = await self._generate(messages)
        return Completion(response.text or "", _usage(response), PROVIDER, self.model)

    async def stream(self, messages: Sequence[Message]) -> AsyncIterator[str]:
        system, contents = _contents(messages)

        async def start() -> AsyncIterator[types.GenerateContentResponse]:
            try:
                return await self._client.aio.models.generate_content_stream(
                    model=self.model, contents=contents, config=self._config(system)
                )
            except _CALL_ERRORS as exc:
                raise _provider_error(exc) from exc

        chunks = await with_retries(start, self.settings)
        try:
            async for chunk in chunks:
                if chunk.text:
                    yield chunk.text
        except _CALL_ERRORS as exc:
            raise _provider_error(exc) from exc

    async def structured(
        self, messages: Sequence[Message], json_schema: dict[str, Any], name: str
    ) -> Structured:
        response = await self._generate(
            messages, response_mime_type="application/json", response_json_schema=json_schema
        )
        raw = response.text or ""
        return Structured(
            parse_and_validate(raw, json_schema), _usage(response), PROVIDER, self.model, raw
        )
