"""Realtime settings (``OJA_`` prefix): a section of the runtime's :class:`~oja.core.config.Settings`."""

from __future__ import annotations

from pydantic import Field

from oja.core.config import SettingsSection
from oja.core.dependencies import RuntimeDep


class RealtimeSettings(SettingsSection):
    realtime_ticket_ttl: int = Field(default=60, ge=1, le=600)
    """Seconds a `POST /ws/ticket` ticket stays valid; single use."""
    realtime_history_hours: float = Field(default=24.0, gt=0)
    """Hours an event is kept for clients that reconnect with a last event id; older ones are
    pruned by `realtime.prune`."""
    realtime_replay_max: int = Field(default=1000, ge=1)
    """Most events replayed to one reconnecting client; beyond it the client gets
    `realtime.truncated` first and should reload its state."""
    realtime_drain_after: float = Field(default=5.0, ge=0)
    """Seconds after which an event its after-commit push never marked (a crash, Redis down) is
    pushed by the `realtime.drain` job."""
    realtime_queue_size: int = Field(default=1000, ge=1)
    """Events buffered per connection; a client that falls further behind is disconnected (1013)
    and resumes with its last event id."""
    realtime_keepalive: float = Field(default=15.0, gt=0)
    """Seconds between SSE keep-alive comments on an idle stream."""
    realtime_channel: str = "oja:realtime:events"
    """Redis pub/sub channel every replica listens on."""


async def get_realtime_settings(runtime: RuntimeDep) -> RealtimeSettings:
    return runtime.settings.section(RealtimeSettings)
