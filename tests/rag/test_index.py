"""The index on SQLite and PostgreSQL: idempotent re-indexing, deletion from every index, owner
isolation in both the vector and the keyword search, incremental cache refresh, model changes."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select, text, update

from oja.core.db import unit_of_work
from oja.rag import repository, service
from oja.rag.embedding import MiniLMEmbedder
from oja.rag.models import RagChunk
from oja.rag.vector_index import MatrixCache, NumpyIndex
from tests.rag.conftest import add_document, index, user

LEASE = (
    "Office lease renewal for suite 4B. The renewed term is three years starting 1 April. "
    "Rent rises by 8 percent in the first year of the new term and is then fixed.\n\n"
    "The tenant may end the lease early by giving six months of written notice and paying a "
    "break fee equal to two months of rent."
)
BEES = (
    "Zaria Honey Cooperative report. The cooperative has 214 member beekeepers who keep Kenyan "
    "top-bar hives. The main harvest runs from November to February."
)


def long_text(paragraphs: int) -> str:
    sentence = "Traders at the {n} market sell yams, peppers and palm oil from nearby farms. "
    return "\n\n".join(
        "".join(sentence.format(n=f"number {p}-{s}") for s in range(8)) for p in range(paragraphs)
    )


async def chunk_rows(app: Any, document_id: uuid.UUID | None = None) -> list[RagChunk]:
    async with unit_of_work(app.state.runtime.database) as session:
        query = select(RagChunk).order_by(RagChunk.document_id, RagChunk.chunk_index)
        if document_id is not None:
            query = query.where(RagChunk.document_id == document_id)
        return list(await session.scalars(query))


async def keyword_rows(app: Any) -> int:
    """Rows in the keyword index: the FTS5 table on SQLite; on PostgreSQL the index is an
    expression over rag_chunk itself, so it is exactly the rows that table has."""
    async with unit_of_work(app.state.runtime.database) as session:
        if session.get_bind().dialect.name == "sqlite":
            return int(await session.scalar(text("SELECT count(*) FROM rag_chunk_fts")) or 0)
        return int(await session.scalar(select(func.count()).select_from(RagChunk)) or 0)


async def test_indexing_three_times_leaves_one_copy(app: Any, client: httpx.AsyncClient) -> None:
    owner, _ = await user(client)
    document_id = await add_document(app, owner, long_text(12))
    first = await index(app, document_id)
    assert first is not None
    assert first.chunks >= 2
    assert first.embedded == first.chunks
    rows = await chunk_rows(app)
    for _ in range(2):
        again = await index(app, document_id)
        assert again is not None
        assert (again.chunks, again.embedded) == (first.chunks, 0)
    after = await chunk_rows(app)
    assert len(after) == first.chunks
    assert [(r.id, r.content_hash, r.chunk_index) for r in after] == [
        (r.id, r.content_hash, r.chunk_index) for r in rows
    ]
    assert await keyword_rows(app) == first.chunks
    document = await _document(app, document_id)
    assert document.chunk_count == first.chunks
    for row in after:
        assert row.embedding_dim == 384
        assert len(row.embedding) == 384 * 4
        vector = np.frombuffer(row.embedding, dtype="<f4")
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
        assert document.text is not None
        assert document.text[row.start_char : row.end_char] == row.text


async def test_changed_text_replaces_the_chunks(app: Any, client: httpx.AsyncClient) -> None:
    owner, _ = await user(client)
    document_id = await add_document(app, owner, long_text(12))
    await index(app, document_id)
    async with unit_of_work(app.state.runtime.database) as session:
        document = await _document(app, document_id, session)
        document.text = LEASE
    replaced = await index(app, document_id)
    assert replaced is not None
    assert replaced.chunks == 1
    [row] = await chunk_rows(app, document_id)
    assert row.text == LEASE
    assert await keyword_rows(app) == 1


async def test_deleting_removes_the_chunks_everywhere(app: Any, client: httpx.AsyncClient) -> None:
    owner, _ = await user(client)
    keep = await add_document(app, owner, BEES)
    gone = await add_document(app, owner, long_text(8))
    await index(app, keep)
    await index(app, gone)
    runtime = app.state.runtime
    async with unit_of_work(runtime.database) as session:
        assert await service.forget_document(session, gone) >= 2
    assert [r.document_id for r in await chunk_rows(app)] == [keep]
    assert await keyword_rows(app) == 1
    vector = (await MiniLMEmbedder().embed(["market traders sell yams"]))[0]
    async with unit_of_work(runtime.database) as session:
        hits = await NumpyIndex(runtime.database.url, MiniLMEmbedder.name).search(
            session, vector, owner, 10
        )
        words = await repository.keyword_search(
            session, "yams peppers market", owner_id=owner, model=MiniLMEmbedder.name, limit=10
        )
    assert len(hits) == 1
    assert words == []


async def test_the_document_row_cascades_to_its_chunks(app: Any, client: httpx.AsyncClient) -> None:
    owner, _ = await user(client)
    document_id = await add_document(app, owner, BEES)
    await index(app, document_id)
    async with unit_of_work(app.state.runtime.database) as session:
        await session.delete(await _document(app, document_id, session))
    assert await chunk_rows(app) == []
    assert await keyword_rows(app) == 0


async def test_searches_never_cross_owners(app: Any, client: httpx.AsyncClient) -> None:
    alice, _ = await user(client)
    bob, _ = await user(client)
    alices = await add_document(app, alice, LEASE)
    bobs = await add_document(app, bob, BEES)
    await index(app, alices)
    await index(app, bobs)
    runtime = app.state.runtime
    vector = (await MiniLMEmbedder().embed(["How much notice to end the office lease?"]))[0]
    numpy_index = NumpyIndex(runtime.database.url, MiniLMEmbedder.name)
    async with unit_of_work(runtime.database) as session:
        for owner, expected in ((alice, alices), (bob, bobs)):
            hits = await numpy_index.search(session, vector, owner, 20)
            ids = {r.id for r in await chunk_rows(app, expected)}
            assert {h for h, _ in hits} == ids
            words = await repository.keyword_search(
                session,
                "lease notice rent beekeepers hives",
                owner_id=owner,
                model=MiniLMEmbedder.name,
                limit=20,
            )
            assert {item for item, _ in words} == ids
        assert await numpy_index.search(session, vector, alice, 5, document_ids=[bobs]) == []
        assert (
            await repository.keyword_search(
                session,
                "beekeepers",
                owner_id=alice,
                model=MiniLMEmbedder.name,
                limit=5,
                document_ids=[bobs],
            )
            == []
        )


async def test_another_process_sees_changes_through_the_version_log(
    app: Any, client: httpx.AsyncClient
) -> None:
    owner, _ = await user(client)
    runtime = app.state.runtime
    other = MatrixCache(MiniLMEmbedder.name)  # another process's cache of the same database
    first = await add_document(app, owner, LEASE)
    await index(app, first)
    async with unit_of_work(runtime.database) as session:
        await other.refresh(session)
    assert set(other.blocks) == {first}
    loaded_version = other.version
    second = await add_document(app, owner, BEES)
    await index(app, second)
    async with unit_of_work(runtime.database) as session:
        assert await repository.changed_documents(session, loaded_version, loaded_version + 1) == {
            second
        }
        await other.refresh(session)
        await service.forget_document(session, first)
    async with unit_of_work(runtime.database) as session:
        await other.refresh(session)
    assert set(other.blocks) == {second}
    assert other.version == loaded_version + 2


async def test_chunks_of_another_model_are_not_searched(
    app: Any, client: httpx.AsyncClient
) -> None:
    owner, _ = await user(client)
    document_id = await add_document(app, owner, LEASE)
    await index(app, document_id)
    runtime = app.state.runtime
    async with unit_of_work(runtime.database) as session:
        await session.execute(update(RagChunk).values(embedding_model="openrouter/some-old-model"))
        await repository.bump_version(session, [document_id])
    vector = (await MiniLMEmbedder().embed(["lease notice"]))[0]
    async with unit_of_work(runtime.database) as session:
        hits = await NumpyIndex(runtime.database.url, MiniLMEmbedder.name).search(
            session, vector, owner, 5
        )
    assert hits == []
    again = await index(app, document_id)  # what rag.reindex_stale does
    assert again is not None
    assert again.embedded == 1


async def _document(app: Any, document_id: uuid.UUID, session: Any = None) -> Any:
    from oja.documents.models import Document

    if session is not None:
        return await session.get(Document, document_id)
    async with unit_of_work(app.state.runtime.database) as own:
        return await own.get(Document, document_id, populate_existing=True)


pytestmark = pytest.mark.usefixtures("database_url")
