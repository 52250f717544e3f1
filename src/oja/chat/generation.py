"""What a prompt is sent with, and to whom.

Provider: ``gemini`` when ``OJA_GEMINI_API_KEY`` is set, else ``local`` (offline, deterministic, and
stored as ``provider: "local"`` on the reply so nobody mistakes it for Gemini). Retries of 429 and
5xx answers, honouring Gemini's ``retryDelay``, are the AI port's (:mod:`oja.core.ai.retry`); this
module adds none, so a provider is never asked more than ``OJA_LLM_MAX_ATTEMPTS`` times per prompt.

History: the newest turns of the room that fit ``OJA_CHAT_HISTORY_TOKENS`` (estimated at four
characters a token), oldest first, then the prompt itself, which is always sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from oja.core.ai import AISettings, ChatModel, Message, ProviderName, retry
from oja.core.ai.prompting import estimate_tokens

SYSTEM_PROMPT = (
    "You are Oja's assistant. Answer the user's last message helpfully and concisely, "
    "using the earlier turns of the conversation as context."
)
HISTORY_ROWS = 200
"""Most stored turns read for one prompt before the token budget trims them."""


@dataclass(frozen=True, slots=True)
class Turn:
    role: str
    content: str


def provider_for(settings: AISettings) -> ProviderName:
    return "gemini" if settings.gemini_api_key is not None else "local"


def conversation(history: Sequence[Turn], prompt: str, budget: int) -> list[Message]:
    """System prompt, the newest turns within ``budget`` tokens (oldest first), then ``prompt``."""
    spent = estimate_tokens(SYSTEM_PROMPT) + estimate_tokens(prompt)
    kept: list[Message] = []
    for turn in reversed(history):
        cost = estimate_tokens(turn.content)
        if spent + cost > budget:
            break
        spent += cost
        kept.append(Message("assistant" if turn.role == "assistant" else "user", turn.content))
    kept.reverse()
    return [Message("system", SYSTEM_PROMPT), *kept, Message("user", prompt)]


async def stream_reply(
    model: ChatModel, messages: Sequence[Message], settings: AISettings
) -> AsyncIterator[str]:
    """``model.stream(messages)``, with the AI port's retry policy applied up to the first delta.

    Adapter for a gap in the port: google-genai opens a streamed request lazily, so a 429 or 5xx
    surfaces on the first iteration, outside the retries ``GeminiChat.stream`` wraps around the
    call that starts it. Retrying here, only until a delta has been yielded (never mid-reply) and
    with the port's own :func:`~oja.core.ai.retry.with_retries` (same attempts, same obedience to
    ``retryDelay``), keeps one policy; the port's start-up retries never fire for these errors, so
    nothing is retried twice. Remove this once the port retries the first chunk itself.
    """

    async def first() -> tuple[AsyncIterator[str], str | None]:
        iterator = aiter(model.stream(messages))
        try:
            return iterator, await anext(iterator)
        except StopAsyncIteration:
            return iterator, None

    iterator, head = await retry.with_retries(first, settings)
    if head is None:
        return
    yield head
    async for delta in iterator:
        yield delta
