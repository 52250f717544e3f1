"""Small-chunk/parent: child vectors are written with their chunks and deleted with them; dense
search scores a chunk by its best child and returns the chunk once; a chunk indexed before child
vectors existed is scored by its own vector until its document is re-indexed."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import delete, func, select

from oja.core.db import unit_of_work
from oja.documents.models import Document
from oja.rag import minilm, repository, service
from oja.rag.embedding import MiniLMEmbedder
from oja.rag.jobs import request_indexing
from oja.rag.models import RagChunk, RagChunkVector
from oja.rag.repository import VectorRow
from oja.rag.vector_index import MatrixCache, NumpyIndex
from tests.conftest import Jobs
from tests.rag.conftest import add_document, index, user
from tests.rag.test_index import LEASE, chunk_rows, long_text


async def child_rows(app: Any) -> list[RagChunkVector]:
    async with unit_of_work(app.state.runtime.database) as session:
        query = select(RagChunkVector).order_by(
            RagChunkVector.chunk_id, RagChunkVector.window_index
        )
        return list(await session.scalars(query))


async def test_indexing_writes_each_chunks_windows(app: Any, client: httpx.AsyncClient) -> None:
    owner, _ = await user(client)
    document_id = await add_document(app, owner, long_text(6))
    indexed = await index(app, document_id)
    assert indexed is not None
    chunks = await chunk_rows(app, document_id)
    windows = service.child_windows([c.text for c in chunks])
    assert all(len(w) >= 2 for w in windows)  # 300-600-token chunks, 128-token windows
    children = await child_rows(app)
    assert [(r.chunk_id, r.window_index) for r in children] == sorted(
        (c.id, w) for c, ws in zip(chunks, windows, strict=True) for w in range(len(ws))
    )
    texts = [w for ws in windows for w in ws]
    expected = minilm.load().embed(texts)
    by_key = {(r.chunk_id, r.window_index): r.embedding for r in children}
    stored = np.vstack(
        [
            np.frombuffer(by_key[c.id, w], dtype="<f4")
            for c, ws in zip(chunks, windows, strict=True)
            for w in range(len(ws))
        ]
    )
    assert np.allclose(stored, expected, atol=1e-5)
    again = await index(app, document_id)
    assert again is not None
    assert again.embedded == 0
    assert [(r.chunk_id, r.window_index, r.embedding) for r in await child_rows(app)] == [
        (r.chunk_id, r.window_index, r.embedding) for r in children
    ]


async def test_a_short_chunk_is_its_own_only_child(app: Any, client: httpx.AsyncClient) -> None:
    owner, _ = await user(client)
    document_id = await add_document(app, owner, LEASE)
    await index(app, document_id)
    [chunk] = await chunk_rows(app, document_id)
    [child] = await child_rows(app)
    assert (child.chunk_id, child.window_index, child.embedding) == (chunk.id, 0, chunk.embedding)


async def test_children_go_with_their_chunks(app: Any, client: httpx.AsyncClient) -> None:
    owner, _ = await user(client)
    keep = await add_document(app, owner, LEASE)
    gone = await add_document(app, owner, long_text(8))
    await index(app, keep)
    await index(app, gone)
    [kept] = await chunk_rows(app, keep)
    async with unit_of_work(app.state.runtime.database) as session:
        await service.forget_document(session, gone)
    assert [r.chunk_id for r in await child_rows(app)] == [kept.id]
    async with unit_of_work(app.state.runtime.database) as session:  # the row cascades
        await session.delete(await session.get(Document, keep))
    assert await child_rows(app) == []


def row(
    chunk: uuid.UUID, document: uuid.UUID, owner: uuid.UUID, *vectors: list[float]
) -> VectorRow:
    """A chunk whose whole vector is its first child's (the children are what is searched)."""
    blobs = [np.asarray(v, dtype="<f4").tobytes() for v in vectors]
    return VectorRow(chunk, document, owner, blobs[0], blobs)


def test_a_chunk_scores_its_best_child_and_comes_back_once() -> None:
    owner, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    cache = MatrixCache("test")
    cache._load(
        [
            row(a, first, owner, [1, 0, 0], [0.6, 0.8, 0], [0, 0, 1]),
            row(b, first, owner, [0.8, 0.6, 0]),
            row(c, second, owner, [0, 1, 0], [0.28, 0.96, 0]),
        ],
        None,
    )
    question = np.asarray([0, 1, 0], dtype=np.float32)
    hits = cache.search(question, owner, 10)
    assert [h for h, _ in hits] == [c, a, b]
    assert np.allclose([s for _, s in hits], [1.0, 0.8, 0.6])
    assert [h for h, _ in cache.search(question, owner, 2)] == [c, a]
    filtered = cache.search(question, owner, 10, document_ids=[first])
    assert [h for h, _ in filtered] == [a, b]
    assert np.allclose([s for _, s in filtered], [0.8, 0.6])
    assert cache.search(question, uuid.uuid4(), 10) == []
    cosines = cache.cosines(question, owner, [b, a, uuid.uuid4()])
    assert list(cosines) == [b, a]
    assert np.allclose(list(cosines.values()), [0.6, 0.8])


def test_a_chunk_without_children_is_scored_by_its_own_vector() -> None:
    owner, document = uuid.uuid4(), uuid.uuid4()
    old, new = uuid.uuid4(), uuid.uuid4()
    cache = MatrixCache("test")
    whole = np.asarray([0.6, 0.8, 0], dtype="<f4").tobytes()
    cache._load(
        [
            VectorRow(old, document, owner, whole, []),
            row(new, document, owner, [1, 0, 0], [0, 0, 1]),
        ],
        None,
    )
    question = np.asarray([0, 1, 0], dtype=np.float32)
    hits = cache.search(question, owner, 10)
    assert [h for h, _ in hits] == [old, new]
    assert np.allclose([s for _, s in hits], [0.8, 0.0])


async def test_documents_indexed_before_children_are_searched_then_reindexed(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    owner, headers = await user(client)
    document_id = await add_document(app, owner, long_text(6))
    await index(app, document_id)
    before = await child_rows(app)
    runtime = app.state.runtime
    async with unit_of_work(runtime.database) as session:  # as the migration leaves old chunks
        await session.execute(delete(RagChunkVector))
        await repository.bump_version(session, [document_id])
        assert await repository.documents_without_children(session, 10) == [document_id]
    chunks = await chunk_rows(app, document_id)
    question = (await MiniLMEmbedder().embed(["yams and palm oil at the market"]))[0]
    async with unit_of_work(runtime.database) as session:
        hits = await NumpyIndex(runtime.database.url, MiniLMEmbedder.name).search(
            session, question, owner, 10
        )
    whole = {c.id: float(np.frombuffer(c.embedding, dtype="<f4") @ question) for c in chunks}
    assert sorted(h for h, _ in hits) == sorted(whole)
    assert all(abs(score - whole[h]) < 1e-5 for h, score in hits)
    response = await client.post(
        "/query", json={"question": "Who sells yams?", "min_score": 0}, headers=headers
    )
    assert response.status_code == 200
    assert {c["document_id"] for c in response.json()["chunks"]} == {str(document_id)}

    async with unit_of_work(runtime.database) as session:
        await request_indexing(document_id, runtime.settings)
    assert await jobs.run_kinds(app) == [("rag.index_document", "succeeded")]
    after = await child_rows(app)
    assert [(r.chunk_id, r.window_index) for r in after] == [
        (r.chunk_id, r.window_index) for r in before
    ]
    async with unit_of_work(runtime.database) as session:
        assert await repository.documents_without_children(session, 10) == []
        count = await session.scalar(select(func.count()).select_from(RagChunk))
    assert count == len(chunks)


pytestmark = pytest.mark.usefixtures("database_url")
