"""The fan-out: each process's sockets subscribe to topics here; pushes reach them in-process, or
through one Redis pub/sub channel that every replica listens on when ``OJA_REDIS_URL`` is set.

Every replica receives every event and delivers it to its own subscribers of the event's topics:
one channel, one listening connection per process, whatever the number of sockets or topics.
Delivery is at least once (a drained event may have been pushed before the crash that kept it
unmarked); messages carry their id and each connection drops ids it has already sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import structlog

from oja.core.runtime import Runtime
from oja.realtime.config import RealtimeSettings

log = structlog.get_logger("oja.realtime")
SEEN_IDS = 4096
"""Ids a connection remembers to drop duplicates (a replay overlapping live events, a re-push)."""
LISTEN_TIMEOUT = 5.0
"""Seconds a subscriber waits for the Redis listener to be subscribed before giving up."""


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    event: str
    data: dict[str, Any]
    topics: tuple[str, ...]
    created_at: str

    def client_json(self) -> str:
        """What a client receives: ``{id, event, data, created_at}``."""
        body = {
            "id": self.id,
            "event": self.event,
            "data": self.data,
            "created_at": self.created_at,
        }
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))

    def wire(self) -> str:
        return json.dumps(
            [self.id, self.event, self.data, list(self.topics), self.created_at],
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_wire(cls, raw: bytes | str) -> Message:
        ident, event, data, topics, created_at = json.loads(raw)
        return cls(int(ident), str(event), dict(data), tuple(topics), str(created_at))


class Subscription:
    """One connection's topics and its bounded queue of messages not yet sent."""

    def __init__(self, hub: Hub, topics: list[str], size: int) -> None:
        self.hub = hub
        self.topics: set[str] = set()
        self.queue: asyncio.Queue[Message] = asyncio.Queue(size)
        self.overflowed = False
        self._seen: OrderedDict[int, None] = OrderedDict()
        for topic in topics:
            self.add(topic)

    def add(self, topic: str) -> None:
        self.topics.add(topic)
        self.hub._by_topic.setdefault(topic, set()).add(self)

    def offer(self, message: Message) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True  # the connection closes; the client resumes from its last id

    def first_time(self, message_id: int) -> bool:
        """True the first time ``message_id`` is sent on this connection."""
        if message_id in self._seen:
            return False
        self._seen[message_id] = None
        if len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)
        return True

    def close(self) -> None:
        for topic in self.topics:
            subscribers = self.hub._by_topic.get(topic)
            if subscribers is not None:
                subscribers.discard(self)
                if not subscribers:
                    del self.hub._by_topic[topic]


class Hub:
    def __init__(
        self,
        *,
        redis_url: str | None,
        publisher: aioredis.Redis | None,
        channel: str,
        queue_size: int,
    ) -> None:
        self.redis_url = redis_url
        self.channel = channel
        self.queue_size = queue_size
        self._publisher = publisher
        self._by_topic: dict[str, set[Subscription]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    async def subscribe(self, topics: list[str]) -> Subscription:
        """A subscription that receives every event pushed from now on to any of ``topics``."""
        if self.redis_url is not None:
            await self._listen()
        return Subscription(self, topics, self.queue_size)

    async def push(self, messages: list[Message]) -> None:
        """Hand ``messages`` to every replica's subscribers (raises when Redis is unreachable)."""
        if not messages:
            return
        if self._publisher is None:
            for message in messages:
                self.deliver(message)
            return
        async with self._publisher.pipeline(transaction=False) as pipe:
            for message in messages:
                pipe.publish(self.channel, message.wire())
            await pipe.execute()

    def deliver(self, message: Message) -> None:
        """Queue ``message`` for this process's subscribers of its topics, once each."""
        subscribers: set[Subscription] = set()
        for topic in message.topics:
            subscribers.update(self._by_topic.get(topic, ()))
        for subscriber in subscribers:
            subscriber.offer(message)

    async def _listen(self) -> None:
        if self._listener is None or self._listener.done():
            self._listening.clear()
            self._listener = asyncio.create_task(self._run_listener(), name="realtime.listener")
        # Subscribed before the caller counts as connected: nothing published after it is missed.
        await asyncio.wait_for(self._listening.wait(), timeout=LISTEN_TIMEOUT)

    async def _run_listener(self) -> None:
        assert self.redis_url is not None
        delay = 0.5
        while True:
            client = aioredis.Redis.from_url(self.redis_url)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    async for item in pubsub.listen():
                        if item["type"] == "subscribe":
                            self._listening.set()
                            delay = 0.5
                        elif item["type"] == "message":
                            self.deliver(Message.from_wire(item["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarted: listen again; clients resume by last id
                log.warning("realtime.listener.failed", error=repr(exc)[:200])
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            finally:
                await client.aclose()

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None


_hubs: weakref.WeakKeyDictionary[Any, Hub] = weakref.WeakKeyDictionary()


def hub_for(runtime: Runtime) -> Hub:
    """The process's hub for ``runtime`` (made on first use)."""
    hub = _hubs.get(runtime.database)
    if hub is None:
        settings = runtime.settings.section(RealtimeSettings)
        hub = Hub(
            redis_url=runtime.settings.redis.redis_url,
            publisher=runtime.redis,
            channel=settings.realtime_channel,
            queue_size=settings.realtime_queue_size,
        )
        _hubs[runtime.database] = hub
    return hub


async def close_hub(runtime: Runtime) -> None:
    """Stop ``runtime``'s Redis listener, if it started one (the app's shutdown)."""
    hub = _hubs.pop(runtime.database, None)
    if hub is not None:
        await hub.close()
