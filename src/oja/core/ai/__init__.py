"""The AI port: :class:`ChatModel` and :class:`Embedder`, and the providers behind them.

Providers: ``openrouter`` (openai SDK), ``gemini`` (google-genai SDK), ``local`` (offline,
deterministic, labelled). :func:`open_chat_model` picks one — the name asked for, else
``OJA_LLM_PROVIDER``, else ``openrouter`` when its key is set, else ``local`` — and closes it after
use. Vendor SDKs are imported only by their adapter module, and only when that provider is used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from oja.core.ai.base import ChatModel, Completion, Embedder, Message, Structured, Usage
from oja.core.ai.config import AISettings, ProviderName
from oja.core.ai.errors import AINotConfigured, AIProviderError, StructuredOutputInvalid

__all__ = [
    "AINotConfigured",
    "AIProviderError",
    "AISettings",
    "ChatModel",
    "Completion",
    "Embedder",
    "Message",
    "ProviderName",
    "Structured",
    "StructuredOutputInvalid",
    "Usage",
    "chat_provider",
    "open_chat_model",
    "open_embedder",
]


def chat_provider(settings: AISettings, requested: ProviderName | None = None) -> ProviderName:
    """The provider a call will use (see the module docstring for the order)."""
    if requested is not None:
        return requested
    if settings.llm_provider is not None:
        return settings.llm_provider
    return "openrouter" if settings.openrouter_api_key is not None else "local"


def _build_chat(settings: AISettings, provider: ProviderName) -> ChatModel:
    if provider == "openrouter":
        from oja.core.ai.openrouter import OpenRouterChat

        return OpenRouterChat(settings)
    if provider == "gemini":
        from oja.core.ai.gemini import GeminiChat

        return GeminiChat(settings)
    from oja.core.ai.local import LocalChat

    return LocalChat()


async def _close(adapter: Any) -> None:
    close = getattr(adapter, "aclose", None)
    if close is not None:
        await close()


@asynccontextmanager
async def open_chat_model(
    settings: AISettings, provider: ProviderName | None = None
) -> AsyncIterator[ChatModel]:
    """A chat model for the duration of the block; its HTTP client is closed afterwards.

    Raises :class:`AINotConfigured` when ``provider`` names a provider whose key is not set.
    """
    model = _build_chat(settings, chat_provider(settings, provider))
    try:
        yield model
    finally:
        await _close(model)


@asynccontextmanager
async def open_embedder(
    settings: AISettings, provider: ProviderName | None = None
) -> AsyncIterator[Embedder]:
    """An embedder: OpenRouter's when asked for or when its key is set, else the local one."""
    chosen = provider or ("openrouter" if settings.openrouter_api_key is not None else "local")
    embedder: Embedder
    if chosen == "openrouter":
        from oja.core.ai.openrouter import OpenRouterEmbedder

        embedder = OpenRouterEmbedder(settings)
    elif chosen == "local":
        from oja.core.ai.local import LocalEmbedder

        embedder = LocalEmbedder(settings.local_embedding_dimensions)
    else:
        raise AINotConfigured(
            f"The {chosen} provider offers no embeddings in Oja.",
            feature=f"{chosen}_embeddings",
            settings=["OJA_EMBEDDING_PROVIDER"],
        )
    try:
        yield embedder
    finally:
        await _close(cast(Any, embedder))
