"""Chat settings (``OJA_`` prefix): a section of the runtime's :class:`~oja.core.config.Settings`."""

from __future__ import annotations

from pydantic import Field

from oja.core.config import SettingsSection
from oja.core.dependencies import RuntimeDep


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


async def get_chat_settings(runtime: RuntimeDep) -> ChatSettings:
    """The chat section of the app's settings; the job reads ``ctx.runtime.settings`` instead.

    Async so that `GET /chatroom` does not hop to the thread pool for a kept value.
    """
    return runtime.settings.section(ChatSettings)
