"""SQL of the retrieval module: chunk rows, the index version log, and keyword search.

Every write to ``rag_chunk`` goes through :func:`replace_document` or :func:`delete_document`,
which also bump the index version and log the document, in the caller's transaction.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.documents.models import Document
from oja.rag.models import RagChunk, RagChunkVector, RagIndexChange, RagIndexState

STATE_ID = 1
CHANGE_LOG_RETENTION = timedelta(days=1)
_TERM = re.compile(r"[^\W_]+")
_STOPWORD_TEXT = """
a an and are as at be been but by can could did do does for from had has have how i if in into is it
its me my no not of on or our so than that the their them then there these they this to was we were
what when where which who whom why will with would you your
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
MAX_TERMS = 32


async def bump_version(session: AsyncSession, document_ids: Iterable[uuid.UUID]) -> int:
    """Take the next index version (row-locked until commit, so versions commit in order)."""
    version = await session.scalar(
        update(RagIndexState)
        .where(RagIndexState.id == STATE_ID)
        .values(version=RagIndexState.version + 1)
        .returning(RagIndexState.version)
    )
    if version is None:  # the migration seeds the row; a database built otherwise gets it here
        session.add(RagIndexState(id=STATE_ID, epoch=uuid.uuid4(), version=1))
        await session.flush()
        version = 1
    now = utcnow()
    rows = [{"version": version, "document_id": d, "created_at": now} for d in set(document_ids)]
    if rows:
        await session.execute(insert(RagIndexChange), rows)
    return int(version)


async def replace_document(
    session: AsyncSession,
    document_id: uuid.UUID,
    rows: Sequence[dict[str, object]],
    children: Sequence[dict[str, object]] = (),
) -> int:
    """The document's chunks become exactly ``rows`` (keyed by document and chunk index), and
    their child vectors exactly ``children`` (the old ones go with their chunks, by cascade)."""
    await session.execute(delete(RagChunk).where(RagChunk.document_id == document_id))
    if rows:
        await session.execute(insert(RagChunk), list(rows))
    if children:
        await session.execute(insert(RagChunkVector), list(children))
    return await bump_version(session, [document_id])


async def delete_document(session: AsyncSession, document_id: uuid.UUID) -> int:
    """Remove the document's chunks; returns how many there were."""
    result = await session.execute(delete(RagChunk).where(RagChunk.document_id == document_id))
    await bump_version(session, [document_id])
    return int(result.rowcount)  # type: ignore[attr-defined]


async def prune_changes(session: AsyncSession) -> None:
    await session.execute(
        delete(RagIndexChange).where(RagIndexChange.created_at < utcnow() - CHANGE_LOG_RETENTION)
    )


async def current_version(session: AsyncSession) -> tuple[uuid.UUID | None, int]:
    """(epoch, version) of the index; a different epoch means the counter started again."""
    row = (await session.execute(select(RagIndexState.epoch, RagIndexState.version))).first()
    return (row.epoch, int(row.version)) if row is not None else (None, 0)


async def changed_documents(session: AsyncSession, after: int, upto: int) -> set[uuid.UUID] | None:
    """Documents touched by versions in (after, upto]; None when the log no longer reaches back."""
    oldest = await session.scalar(select(func.min(RagIndexChange.version)))
    if oldest is None or oldest > after + 1:
        return None
    result = await session.scalars(
        select(RagIndexChange.document_id)
        .where(RagIndexChange.version > after, RagIndexChange.version <= upto)
        .distinct()
    )
    return set(result)


@dataclass(frozen=True, slots=True)
class VectorRow:
    id: uuid.UUID
    document_id: uuid.UUID
    owner_id: uuid.UUID
    embedding: bytes
    children: list[bytes]
    """The chunk's child vectors in window order; empty for a chunk indexed before they existed."""


async def vector_rows(
    session: AsyncSession, model: str, document_ids: Iterable[uuid.UUID] | None = None
) -> list[VectorRow]:
    """Every chunk of ``model`` (within ``document_ids``) with its child vectors, by document
    and chunk index."""
    query = select(RagChunk.id, RagChunk.document_id, RagChunk.owner_id, RagChunk.embedding).where(
        RagChunk.embedding_model == model
    )
    child_query = (
        select(RagChunkVector.chunk_id, RagChunkVector.embedding)
        .join(RagChunk, RagChunk.id == RagChunkVector.chunk_id)
        .where(RagChunk.embedding_model == model)
    )
    if document_ids is not None:
        wanted = list(document_ids)
        if not wanted:
            return []
        query = query.where(RagChunk.document_id.in_(wanted))
        child_query = child_query.where(RagChunk.document_id.in_(wanted))
    children: dict[uuid.UUID, list[bytes]] = {}
    for row in await session.execute(
        child_query.order_by(RagChunkVector.chunk_id, RagChunkVector.window_index)
    ):
        children.setdefault(row.chunk_id, []).append(row.embedding)
    result = await session.execute(query.order_by(RagChunk.document_id, RagChunk.chunk_index))
    return [
        VectorRow(r.id, r.document_id, r.owner_id, r.embedding, children.get(r.id, []))
        for r in result
    ]


async def child_counts(session: AsyncSession, document_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """How many child vectors each of the document's chunks has (absent: none)."""
    result = await session.execute(
        select(RagChunkVector.chunk_id, func.count())
        .join(RagChunk, RagChunk.id == RagChunkVector.chunk_id)
        .where(RagChunk.document_id == document_id)
        .group_by(RagChunkVector.chunk_id)
    )
    return {chunk: int(count) for chunk, count in result}


async def documents_without_children(session: AsyncSession, limit: int) -> list[uuid.UUID]:
    """Documents with a chunk that has no child vector (indexed before they existed)."""
    orphan = ~select(RagChunkVector.chunk_id).where(RagChunkVector.chunk_id == RagChunk.id).exists()
    result = await session.scalars(
        select(RagChunk.document_id).where(orphan).distinct().limit(limit)
    )
    return list(result)


async def chunk_vectors(
    session: AsyncSession, ids: Sequence[uuid.UUID], owner_id: uuid.UUID
) -> list[VectorRow]:
    """The chunks named that ``owner_id`` owns, with their child vectors."""
    if not ids:
        return []
    children: dict[uuid.UUID, list[bytes]] = {}
    for chunk, embedding in await session.execute(
        select(RagChunkVector.chunk_id, RagChunkVector.embedding)
        .where(RagChunkVector.chunk_id.in_(list(ids)))
        .order_by(RagChunkVector.chunk_id, RagChunkVector.window_index)
    ):
        children.setdefault(chunk, []).append(embedding)
    result = await session.execute(
        select(RagChunk.id, RagChunk.document_id, RagChunk.owner_id, RagChunk.embedding).where(
            RagChunk.id.in_(list(ids)), RagChunk.owner_id == owner_id
        )
    )
    return [
        VectorRow(r.id, r.document_id, r.owner_id, r.embedding, children.get(r.id, []))
        for r in result
    ]


async def chunks_of(session: AsyncSession, document_id: uuid.UUID) -> list[RagChunk]:
    result = await session.scalars(
        select(RagChunk).where(RagChunk.document_id == document_id).order_by(RagChunk.chunk_index)
    )
    return list(result)


@dataclass(frozen=True, slots=True)
class ChunkHit:
    id: uuid.UUID
    document_id: uuid.UUID
    filename: str
    chunk_index: int
    text: str
    embedding: bytes


async def hits_by_id(
    session: AsyncSession, ids: Sequence[uuid.UUID], owner_id: uuid.UUID
) -> dict[uuid.UUID, ChunkHit]:
    """The chunks named, with their file names — only those ``owner_id`` owns."""
    if not ids:
        return {}
    result = await session.execute(
        select(
            RagChunk.id,
            RagChunk.document_id,
            Document.filename,
            RagChunk.chunk_index,
            RagChunk.text,
            RagChunk.embedding,
        )
        .join(Document, Document.id == RagChunk.document_id)
        .where(RagChunk.id.in_(list(ids)), RagChunk.owner_id == owner_id)
    )
    return {r.id: ChunkHit(*r) for r in result}


def search_terms(question: str) -> list[str]:
    terms: list[str] = []
    for word in _TERM.findall(question.lower()):
        if len(word) > 1 and word not in STOPWORDS and word not in terms:
            terms.append(word)
    return terms[:MAX_TERMS]


async def keyword_search(
    session: AsyncSession,
    question: str,
    *,
    owner_id: uuid.UUID,
    model: str,
    limit: int,
    document_ids: Sequence[uuid.UUID] | None = None,
) -> list[tuple[uuid.UUID, float]]:
    """(chunk id, relevance > 0) of the chunks best matching any of the question's words, best
    first: BM25 on SQLite, ``ts_rank_cd`` on PostgreSQL (scales differ; compare within one
    result). The owner (and document) filter is part of the full-text query, not applied to its
    results."""
    terms = search_terms(question)
    if not terms or (document_ids is not None and not document_ids):
        return []
    params: dict[str, object] = {"owner": owner_id, "model": model, "limit": limit}
    documents_clause = ""
    if document_ids is not None:
        names = [f":d{i}" for i in range(len(document_ids))]
        documents_clause = f"AND c.document_id IN ({', '.join(names)})"
        params.update({f"d{i}": d for i, d in enumerate(document_ids)})
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        params["query"] = " OR ".join(f'"{t}"' for t in terms)
        params["owner"] = owner_id.hex  # Uuid() stores 32 hex digits on SQLite
        for i, d in enumerate(document_ids or ()):
            params[f"d{i}"] = d.hex
        statement = f"""
            SELECT c.id, -bm25(rag_chunk_fts) AS relevance
            FROM rag_chunk_fts f JOIN rag_chunk c ON c.rowkey = f.rowid
            WHERE rag_chunk_fts MATCH :query AND c.owner_id = :owner
              AND c.embedding_model = :model {documents_clause}
            ORDER BY relevance DESC LIMIT :limit
        """  # noqa: S608 - only placeholder names are formatted in
    else:
        params["query"] = " | ".join(terms)
        statement = f"""
            SELECT c.id, ts_rank_cd(to_tsvector('english', c.text), q) AS relevance
            FROM rag_chunk c, to_tsquery('english', :query) q
            WHERE c.owner_id = :owner AND c.embedding_model = :model {documents_clause}
              AND to_tsvector('english', c.text) @@ q
            ORDER BY relevance DESC LIMIT :limit
        """  # noqa: S608 - only placeholder names are formatted in
    result = await session.execute(text(statement), params)
    return [
        (value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)), float(relevance))
        for value, relevance in result
    ]
