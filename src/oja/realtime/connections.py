"""A WebSocket connection and an SSE stream: origin and credential checks, subscription, replay, live delivery.

The order that loses nothing: subscribe first (live events queue up), then replay what the client
missed from the history, then send the queue; ids already sent are dropped, so an event both
replayed and queued reaches the client once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import structlog
from starlette.websockets import WebSocket, WebSocketDisconnect

from oja.core.clock import utcnow
from oja.core.errors import OjaError
from oja.core.runtime import Runtime
from oja.realtime import service
from oja.realtime.hub import Message, Subscription, hub_for

log = structlog.get_logger("oja.realtime")
POLICY_VIOLATION = 1008
"""Refused before accepting (bad origin, no or bad credentials): the client sees HTTP 403."""
TRY_AGAIN_LATER = 1013
"""The client fell ``OJA_REALTIME_QUEUE_SIZE`` events behind: reconnect with the last id."""
INTERNAL_ERROR = 1011


def origin_allowed(websocket: WebSocket, allowed: list[str]) -> bool:
    """A browser's ``Origin`` must be an allowed CORS origin or the API's own; a client without
    one (not a browser, so not a cross-site hijack) passes."""
    origin = websocket.headers.get("origin")
    if origin is None or "*" in allowed or origin in allowed:
        return True
    return urlsplit(origin).netloc == websocket.headers.get("host")


async def authenticate(
    websocket: WebSocket, runtime: Runtime, ticket: str | None
) -> tuple[uuid.UUID, str | None] | None:
    """The user and the subprotocol to echo: from ``?ticket=`` or from an access token offered as
    a ``Sec-WebSocket-Protocol`` value; None when neither holds."""
    if ticket:
        user_id = await service.redeem_ticket(runtime, ticket)
        return None if user_id is None else (user_id, None)
    for protocol in websocket.scope.get("subprotocols", []):
        try:
            return await service.user_of_access_token(runtime, protocol), protocol
        except OjaError:
            continue
    return None


async def serve(
    websocket: WebSocket, runtime: Runtime, *, ticket: str | None, last_event_id: int | None
) -> None:
    if not origin_allowed(websocket, runtime.settings.app.cors_origins):
        await websocket.close(POLICY_VIOLATION, "origin not allowed")
        return
    who = await authenticate(websocket, runtime, ticket)
    if who is None:
        await websocket.close(POLICY_VIOLATION, "authentication required")
        return
    user_id, subprotocol = who
    topics = await service.socket_topics(runtime, user_id)
    try:
        subscription = await hub_for(runtime).subscribe(topics)
    except Exception as exc:
        log.warning("realtime.subscribe.failed", error=repr(exc)[:200])
        await websocket.close(INTERNAL_ERROR, "realtime unavailable")
        return
    try:
        await websocket.accept(subprotocol=subprotocol)
        await _Connection(websocket, runtime, subscription, user_id).run(last_event_id)
    finally:
        subscription.close()


class _Connection:
    def __init__(
        self, websocket: WebSocket, runtime: Runtime, subscription: Subscription, user_id: uuid.UUID
    ) -> None:
        self.websocket = websocket
        self.runtime = runtime
        self.subscription = subscription
        self.user_id = user_id
        self._sending = asyncio.Lock()

    async def run(self, last_event_id: int | None) -> None:
        if last_event_id is not None:
            await self._replay(last_event_id)
        tasks = {
            asyncio.create_task(self._send_live()),
            asyncio.create_task(self._receive()),
        }
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            error = task.exception()
            if error is not None and not isinstance(error, WebSocketDisconnect):
                log.warning("realtime.socket.failed", error=repr(error)[:200])

    async def _send(self, message: Message) -> None:
        if message.id == 0 or self.subscription.first_time(message.id):
            async with self._sending:
                await self.websocket.send_text(message.client_json())

    async def _replay(self, after: int) -> None:
        for message in await service.missed(self.runtime, sorted(self.subscription.topics), after):
            await self._send(message)

    async def _send_live(self) -> None:
        queue = self.subscription.queue
        while True:
            message = await queue.get()
            if self.subscription.overflowed:
                with contextlib.suppress(RuntimeError):
                    await self.websocket.close(TRY_AGAIN_LATER, "too far behind; resume")
                return
            await self._send(message)

    async def _receive(self) -> None:
        """Client commands: ``{"last_event_id": n}`` replays what it missed; ``{"subscribe":
        "order:<id>"}`` adds a topic the registered authorizer lets it watch."""
        while True:
            text = await self.websocket.receive_text()
            try:
                command = json.loads(text)
            except ValueError:
                command = None
            if not isinstance(command, dict):
                await self._notice("realtime.error", {"error": "send a JSON object"})
            elif isinstance(command.get("last_event_id"), int):
                await self._replay(command["last_event_id"])
            elif isinstance(command.get("subscribe"), str):
                await self._subscribe(command["subscribe"])
            else:
                await self._notice("realtime.error", {"error": "unknown command"})

    async def _subscribe(self, topic: str) -> None:
        try:
            await service.authorize(self.runtime, self.user_id, topic)
        except OjaError:
            await self._notice("realtime.refused", {"topic": topic})
            return
        self.subscription.add(topic)
        await self._notice("realtime.subscribed", {"topic": topic})

    async def _notice(self, event: str, data: dict[str, str]) -> None:
        await self._send(Message(0, event, data, (), utcnow().isoformat()))


def sse_frame(message: Message) -> bytes:
    payload = json.dumps(message.data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {message.id}\nevent: {message.event}\ndata: {payload}\n\n".encode()


async def event_stream(
    runtime: Runtime, topic: str, after: int | None, keepalive: float
) -> AsyncIterator[bytes]:
    """Server-sent events of ``topic``: what was missed after ``after``, then live ones, with a
    comment every ``keepalive`` idle seconds (proxies close silent connections)."""
    subscription = await hub_for(runtime).subscribe([topic])
    try:
        yield b"retry: 2000\n\n"
        if after is not None:
            for message in await service.missed(runtime, [topic], after):
                if message.id == 0 or subscription.first_time(message.id):
                    yield sse_frame(message)
        while not subscription.overflowed:
            try:
                message = await asyncio.wait_for(subscription.queue.get(), keepalive)
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            if subscription.first_time(message.id):
                yield sse_frame(message)
    finally:
        subscription.close()
