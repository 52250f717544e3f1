"""The Chroma server option against a real ``chroma run`` started here (offline: Oja passes its own
vectors). Owner isolation inside Chroma's query, idempotent re-indexing, deletion from Chroma."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from oja.core.db import unit_of_work
from oja.rag.chroma_index import ChromaIndex
from oja.rag.embedding import MINILM_NAME, MiniLMEmbedder
from tests.conftest import Jobs
from tests.rag.conftest import add_document, index, set_env, user
from tests.rag.test_query import BEES, LEASE, LEASE_QUESTION


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    path = tmp_path_factory.mktemp("chroma")
    process = subprocess.Popen(  # noqa: S603 - our own binary, fixed arguments
        [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail("the Chroma server did not start")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture
def chroma(chroma_url: str, monkeypatch: pytest.MonkeyPatch, app: Any) -> ChromaIndex:
    prefix = f"t{uuid.uuid4().hex[:12]}"  # a fresh collection per test
    set_env(monkeypatch, app, OJA_CHROMA_URL=chroma_url, OJA_CHROMA_COLLECTION_PREFIX=prefix)
    return ChromaIndex(chroma_url, MINILM_NAME, prefix)


pytestmark = pytest.mark.usefixtures("database_url")


async def test_chroma_index_lifecycle(
    app: Any, client: httpx.AsyncClient, chroma: ChromaIndex, jobs: Jobs
) -> None:
    alice, alice_headers = await user(client)
    bob, bob_headers = await user(client)
    lease = await add_document(app, alice, LEASE, "lease.txt")
    bees = await add_document(app, bob, BEES, "bees.txt")
    for _ in range(3):
        await index(app, lease)
    await index(app, bees)
    assert chroma.count() == 2
    assert chroma.count(lease) == 1

    vector = (await MiniLMEmbedder().embed([LEASE_QUESTION]))[0]
    runtime = app.state.runtime
    async with unit_of_work(runtime.database) as session:
        assert [d for d, _ in await chroma.search(session, vector, bob, 10)] != []
        bob_hits = await chroma.search(session, vector, bob, 10)
        alice_hits = await chroma.search(session, vector, alice, 10)
        assert await chroma.search(session, vector, bob, 10, document_ids=[lease]) == []
    assert len(bob_hits) == 1
    assert len(alice_hits) == 1
    assert alice_hits[0][1] > 0.5 > bob_hits[0][1]

    body = (
        await client.post("/query", json={"question": LEASE_QUESTION}, headers=bob_headers)
    ).json()
    assert body["chunks"] == []
    body = (
        await client.post("/query", json={"question": LEASE_QUESTION}, headers=alice_headers)
    ).json()
    assert body["chunks"][0]["document_id"] == str(lease)
    assert "six months of written notice" in body["answer"]

    deleted = await client.delete(f"/documents/{lease}", headers=alice_headers)
    assert deleted.status_code == 204
    assert await jobs.run_kinds(app) == [("rag.purge_document", "succeeded")]
    assert chroma.count(lease) == 0
    assert chroma.count() == 1
