"""Realtime test helpers: the app served by a real uvicorn in the test's event loop (sockets and
streams need a real server: the ASGI test transports buffer whole responses), people signed in
through it, WebSocket clients and events published as a module would publish them."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from oja.core.db import unit_of_work
from oja.core.runtime import running
from oja.realtime import publish
from oja.realtime.hub import close_hub
from oja.realtime.models import RealtimeEvent
from tests.marketplace.conftest import Person, person

__all__ = ["Person", "Served", "person", "publish_event"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    app: Any
    url: str
    client: httpx.AsyncClient

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"

    async def ticket(self, who: Person) -> str:
        response = await self.client.post("/ws/ticket", headers=who.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["expires_in"] == 60
        return str(body["ticket"])

    def connect(self, query: str = "", **options: Any) -> connect:
        return connect(f"{self.ws_url}{query}", proxy=None, open_timeout=10, **options)

    async def socket_of(self, who: Person, query: str = "") -> ClientConnection:
        ticket = await self.ticket(who)
        separator = "&" if query else ""
        return await self.connect(f"?ticket={ticket}{separator}{query}")


@pytest.fixture
async def served(app: Any) -> AsyncIterator[Served]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", log_config=None, ws="websockets-sansio"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the test server did not start"
        await asyncio.sleep(0.01)
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        yield Served(app, url, client)
    server.should_exit = True
    await task
    await close_hub(app.state.runtime)


async def publish_event(
    app: Any, event: str, data: dict[str, Any], topics: list[str]
) -> RealtimeEvent:
    """Publish in a unit of work of its own, as a service in a request or job does."""
    with running(app.state.runtime):
        async with unit_of_work(app.state.runtime.database) as session:
            return await publish(session, event, data, topics)


async def receive(ws: ClientConnection) -> dict[str, Any]:
    """The next message (a test that waits for one that never comes fails by pytest's timeout)."""
    return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout=10)))
