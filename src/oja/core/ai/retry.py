"""Retrying provider calls: backoff with full jitter, or exactly the delay the provider asks for."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from oja.core.ai.config import AISettings
from oja.core.ai.errors import AIProviderError

T = TypeVar("T")
log = structlog.get_logger("oja.ai")

Sleep = Callable[[float], Awaitable[None]]
sleep: Sleep = asyncio.sleep
"""The pause between attempts; tests replace it to record delays instead of waiting."""


async def with_retries(call: Callable[[], Awaitable[T]], settings: AISettings) -> T:
    """Run ``call``; on a retryable :class:`AIProviderError` try again up to ``llm_max_attempts``.

    A provider-supplied delay (Retry-After, Gemini's ``RetryInfo.retryDelay``) is obeyed exactly;
    one longer than ``llm_retry_max_delay`` ends the call at once with the provider's error, since
    waiting that long inside a request or job is worse than failing honestly.
    """
    attempt = 1
    while True:
        try:
            return await call()
        except AIProviderError as exc:
            if not exc.retryable or attempt >= settings.llm_max_attempts:
                raise
            if exc.retry_after is not None:
                if exc.retry_after > settings.llm_retry_max_delay:
                    raise
                delay = exc.retry_after
            else:
                ceiling = min(
                    settings.llm_retry_max_delay, settings.llm_retry_base_delay * 2 ** (attempt - 1)
                )
                delay = random.uniform(0, ceiling)  # noqa: S311 (jitter, not a secret)
            log.warning(
                "ai.call.retrying",
                provider=exc.provider,
                status=exc.status,
                attempt=attempt,
                delay_s=round(delay, 3),
            )
            await sleep(delay)
            attempt += 1
