"""Chat settings (``OJA_`` prefix), read once per process; tests install their own."""

from __future__ import annotations

import functools

from pydantic import Field

from oja.core.config import SettingsSection


class ChatSettings(SettingsSection):
    chatroom_cache_ttl: float = Field(default=300.0, gt=0, le=3600)
    """Seconds a user's cached `GET /chatroom` list lives (seed 001 asks for 5–10 minutes); writes invalidate it at once."""
    chat_history_tokens: int = Field(default=4000, ge=256)
    """Token budget of the room history sent with a prompt; the oldest turns are dropped first."""
    chat_wait_seconds: float = Field(default=8.0, ge=0, le=60)
    """How long `POST /chatroom/{id}/message` waits for the reply before answering 202 with a status link."""
    chat_max_message_chars: int = Field(default=8000, ge=1, le=100_000)
    """Longest prompt a user may send, in characters."""
    chat_generation_timeout: float = Field(default=120.0, gt=0)
    """Seconds one reply may take (provider retries included) before the message is marked failed and refunded."""
    chat_stream_ttl: int = Field(default=3600, ge=10)
    """Seconds the deltas of a reply stay available for streaming and `Last-Event-ID` resume."""
    chat_reuse_provider_client: bool = True
    """Keep one provider client per worker process and event loop (building a google-genai client costs 100–250 ms)."""
    chat_stream_maxlen: int = Field(default=10_000, ge=100)
    """Most events kept per reply stream (Redis `XADD MAXLEN ~`)."""


@functools.cache
def _load() -> ChatSettings:
    return ChatSettings()


_override: ChatSettings | None = None


def get_chat_settings() -> ChatSettings:
    """The process-wide chat settings (a FastAPI dependency; the job reads it too)."""
    return _override if _override is not None else _load()


def use_chat_settings(settings: ChatSettings | None) -> None:
    """Install settings for this process (tests, benchmarks); None goes back to the environment."""
    global _override
    _override = settings
