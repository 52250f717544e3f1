"""Two API processes behind one Redis: an event committed through one reaches sockets on both."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.conftest import TEST_SECRET, service_url
from tests.marketplace.conftest import person
from tests.processes import running
from tests.realtime.conftest import free_port, receive

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def replicas(tmp_path: Path, database_url: str) -> Iterator[list[str]]:
    """Two uvicorn processes of the same app, database and Redis; their base URLs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OJA_")}
    env.update(
        OJA_ENV="test",
        OJA_SECRET_KEY=TEST_SECRET,
        OJA_DATABASE_URL=database_url,
        OJA_REDIS_URL=service_url("redis"),
        OJA_REALTIME_CHANNEL=f"oja:realtime:test:{uuid.uuid4().hex}",
        OJA_LOG_JSON="false",
    )
    urls = []
    with ExitStack() as stack:
        for n in range(2):
            port = free_port()
            argv = ["uvicorn", "tests.realtime.publishing_app:create_app", "--factory"]
            argv += ["--host", "127.0.0.1", "--port", str(port), "--ws", "websockets-sansio"]
            replica_env = {**env, "OJA_VAR_DIR": str(tmp_path / f"var{n}")}
            stack.enter_context(running(argv, replica_env, tmp_path / f"api{n}.log"))
            urls.append(f"http://127.0.0.1:{port}")
        yield urls


async def _until_healthy(client: httpx.AsyncClient, logs: Path) -> None:
    for _ in range(1500):  # importing the app takes a while on a loaded machine
        try:
            if (await client.get("/health")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    pytest.fail("a replica did not start:\n" + "".join(p.read_text() for p in logs.glob("*.log")))


async def test_an_event_committed_through_one_replica_reaches_sockets_on_both(
    replicas: list[str], tmp_path: Path
) -> None:
    one, two = (httpx.AsyncClient(base_url=url, timeout=10) for url in replicas)
    async with one, two:
        await _until_healthy(one, tmp_path)
        await _until_healthy(two, tmp_path)
        ada = await person(one)
        # A ticket issued by one replica is redeemed by the other: they share the database.
        tickets = [
            (await c.post("/ws/ticket", headers=ada.headers)).json()["ticket"] for c in (two, one)
        ]
        urls = [url.replace("http://", "ws://") + "/ws" for url in replicas]
        async with (
            connect(f"{urls[0]}?ticket={tickets[0]}", proxy=None) as on_one,
            connect(f"{urls[1]}?ticket={tickets[1]}", proxy=None) as on_two,
        ):
            body = {"event": "order.updated", "data": {"n": 1}, "topics": [f"user:{ada.id}"]}
            published = (await one.post("/_test/publish", json=body)).json()["id"]
            assert (await receive(on_two))["id"] == published
            assert (await receive(on_one))["id"] == published
            body["data"] = {"n": 2}
            again = (await two.post("/_test/publish", json=body)).json()["id"]
            assert (await receive(on_one))["data"] == {"n": 2}
            assert (await receive(on_two))["id"] == again
