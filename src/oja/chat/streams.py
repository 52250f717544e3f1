"""Reply streams: the events of one reply, numbered, kept for a while so a client can resume.

The generation job appends ``delta`` events as the provider's stream yields text, then one terminal
event — ``done`` once the reply is committed, ``error`` once the prompt is marked failed — so a
reader that sees a terminal event can trust the database. A retried attempt that had already sent
deltas first appends ``reset``: the reader drops what it showed and the new deltas follow. Sequence
numbers start at 1, only grow, and are the SSE ``id:``; ``Last-Event-ID: n`` resumes after ``n``.

Backends: Redis Streams when the runtime has Redis (``XADD`` with the explicit id ``<seq>-0``, so
the stream id *is* the sequence number; ``MAXLEN ~`` trimming; the key expires
``OJA_CHAT_STREAM_TTL`` seconds after the last event; readers ``XREAD BLOCK``), else a bounded
in-process buffer. The in-process buffer is seen only by its own process: with a worker in another
process and no Redis, readers fall back to the stored message (see :mod:`oja.chat.sending`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, cast

import redis.asyncio as aioredis

from oja.chat.config import ChatSettings
from oja.core.runtime import Runtime

EventKind = Literal["delta", "reset", "done", "error"]
TERMINAL: frozenset[str] = frozenset({"done", "error"})
REDIS_BLOCK_CAP = 1.5
"""Longest single ``XREAD BLOCK``: below the runtime client's 2 s socket timeout."""


@dataclass(frozen=True, slots=True)
class StreamEvent:
    seq: int
    kind: EventKind
    data: dict[str, Any]

    @property
    def terminal(self) -> bool:
        return self.kind in TERMINAL

    def sse(self) -> bytes:
        payload = json.dumps(self.data, ensure_ascii=False, separators=(",", ":"))
        return f"id: {self.seq}\nevent: {self.kind}\ndata: {payload}\n\n".encode()


def stream_key(prompt_id: uuid.UUID) -> str:
    return f"oja:chat:stream:{prompt_id}"


class ReplyStreams(Protocol):
    async def append(self, key: str, kind: EventKind, data: dict[str, Any]) -> StreamEvent:
        """Add one event with the next sequence number."""

    async def read(self, key: str, after: int, *, block: float = 0.0) -> list[StreamEvent]:
        """Events numbered above ``after``; when there are none, wait up to ``block`` seconds."""

    async def last(self, key: str) -> StreamEvent | None:
        """The newest event of the stream; None when it is empty or gone."""


# KEYS[1] stream; ARGV: kind, data, maxlen, ttl_ms. The next number is computed where it is used, so
# concurrent writers (a stale attempt and its successor) can never reuse one.
_APPEND = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local seq = 1
if #last > 0 then seq = tonumber(string.match(last[1][1], '^(%d+)')) + 1 end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], seq .. '-0', 'k', ARGV[1], 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return seq
"""


def _decode(entry_id: bytes | str, fields: dict[Any, Any]) -> StreamEvent:
    raw_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    values = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in fields.items()
    }
    return StreamEvent(
        seq=int(raw_id.split("-", 1)[0]),
        kind=cast(EventKind, values["k"]),
        data=json.loads(values["d"]),
    )


class RedisReplyStreams:
    def __init__(self, redis: aioredis.Redis, settings: ChatSettings) -> None:
        self._redis = redis
        self._maxlen = settings.chat_stream_maxlen
        self._ttl_ms = settings.chat_stream_ttl * 1000
        self._append = redis.register_script(_APPEND)

    async def append(self, key: str, kind: EventKind, data: dict[str, Any]) -> StreamEvent:
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        seq = await self._append(keys=[key], args=[kind, payload, self._maxlen, self._ttl_ms])
        return StreamEvent(int(seq), kind, data)

    async def read(self, key: str, after: int, *, block: float = 0.0) -> list[StreamEvent]:
        block_ms = int(min(block, REDIS_BLOCK_CAP) * 1000)
        answer: Any = await self._redis.xread(
            {key: f"{after}-0"}, count=1000, block=block_ms if block_ms > 0 else None
        )
        events: list[StreamEvent] = []
        for _name, entries in answer or []:
            events.extend(_decode(entry_id, fields) for entry_id, fields in entries)
        return events

    async def last(self, key: str) -> StreamEvent | None:
        last: Any = await self._redis.xrevrange(key, count=1)
        return _decode(last[0][0], last[0][1]) if last else None


@dataclass
class _Buffer:
    events: list[StreamEvent] = field(default_factory=list)
    expires_at: float = 0.0
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class MemoryReplyStreams:
    """The in-process backend: at most ``max_streams`` streams, each trimmed and expiring."""

    def __init__(self, settings: ChatSettings, *, max_streams: int = 1000) -> None:
        self._maxlen = settings.chat_stream_maxlen
        self._ttl = float(settings.chat_stream_ttl)
        self._max_streams = max_streams
        self._buffers: OrderedDict[str, _Buffer] = OrderedDict()

    def _buffer(self, key: str, *, create: bool) -> _Buffer | None:
        buffer = self._buffers.get(key)
        if buffer is not None and buffer.expires_at <= time.monotonic() and not buffer.waiters:
            del self._buffers[key]
            buffer = None
        if buffer is None and create:
            buffer = self._buffers[key] = _Buffer()
            while len(self._buffers) > self._max_streams:
                self._buffers.popitem(last=False)
        return buffer

    async def append(self, key: str, kind: EventKind, data: dict[str, Any]) -> StreamEvent:
        buffer = self._buffer(key, create=True)
        assert buffer is not None
        seq = buffer.events[-1].seq + 1 if buffer.events else 1
        event = StreamEvent(seq, kind, data)
        buffer.events.append(event)
        if len(buffer.events) > self._maxlen:
            del buffer.events[: len(buffer.events) - self._maxlen]
        buffer.expires_at = time.monotonic() + self._ttl
        self._buffers.move_to_end(key)
        waiters, buffer.waiters = buffer.waiters, []
        for waiter in waiters:
            # A reader may wait on another event loop (a test's, a thread's): wake it on its own.
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is waiting
                waiter.get_loop().call_soon_threadsafe(_wake, waiter)
        return event

    async def read(self, key: str, after: int, *, block: float = 0.0) -> list[StreamEvent]:
        events = self._after(key, after)
        if events or block <= 0:
            return events
        buffer = self._buffer(key, create=True)
        assert buffer is not None
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        buffer.waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, block)
        except TimeoutError:
            pass
        finally:
            if waiter in buffer.waiters:
                buffer.waiters.remove(waiter)
        return self._after(key, after)

    def _after(self, key: str, after: int) -> list[StreamEvent]:
        buffer = self._buffer(key, create=False)
        if buffer is None:
            return []
        return [event for event in buffer.events if event.seq > after]

    async def last(self, key: str) -> StreamEvent | None:
        buffer = self._buffer(key, create=False)
        return buffer.events[-1] if buffer is not None and buffer.events else None


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


_memory: MemoryReplyStreams | None = None


def reply_streams(runtime: Runtime, settings: ChatSettings) -> ReplyStreams:
    """Redis Streams when the runtime has Redis (seen by every replica and worker), else this
    process's buffer."""
    global _memory
    if runtime.redis is not None:
        return RedisReplyStreams(runtime.redis, settings)
    if _memory is None:
        _memory = MemoryReplyStreams(settings)
    return _memory
