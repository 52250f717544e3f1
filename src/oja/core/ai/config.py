"""Settings of the AI port (``OJA_`` prefix): which provider, where it lives, how hard to retry.

A section of the runtime's settings: ``runtime.settings.section(AISettings)``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from oja.core.config import SettingsSection

ProviderName = Literal["openrouter", "gemini", "local"]


class AISettings(SettingsSection):
    llm_provider: ProviderName | None = None
    """Chat provider used when a caller names none. Unset: `openrouter` when OJA_OPENROUTER_API_KEY is set, else `local`."""
    openrouter_base_url: str = "https://openrouter.ai/api/v1"
    """OpenRouter's OpenAI-compatible API root (the sandbox fake in tests and `oja sandbox`)."""
    openrouter_api_key: SecretStr | None = None
    """OpenRouter API key; without it the `openrouter` provider refuses to run."""
    llm_model: str = "openai/gpt-4o-mini"
    """OpenRouter chat model id."""
    embedding_model: str = "openai/text-embedding-3-small"
    """OpenRouter embedding model id."""
    gemini_base_url: str = "https://generativelanguage.googleapis.com"
    """Gemini API root (the SDK appends `/v1beta/models/...`)."""
    gemini_api_key: SecretStr | None = None
    """Google AI Studio key for Gemini; without it the `gemini` provider refuses to run."""
    gemini_model: str = "gemini-2.0-flash"
    """Gemini model id."""
    llm_timeout: float = Field(default=60.0, gt=0)
    """Seconds one provider call may take (connect + generation) before it counts as failed."""
    llm_max_attempts: int = Field(default=4, ge=1)
    """Attempts per call on 429, 5xx, timeouts and dropped connections (1 means no retry)."""
    llm_retry_base_delay: float = Field(default=1.0, ge=0)
    """First backoff in seconds when the provider gives no delay; doubles per attempt, full jitter."""
    llm_retry_max_delay: float = Field(default=30.0, ge=0)
    """Longest wait between attempts. A provider asking for longer (Retry-After, retryDelay) fails the call at once."""
    local_embedding_dimensions: int = Field(default=384, ge=8)
    """Vector size of the offline `local` embedder (feature hashing, deterministic)."""
