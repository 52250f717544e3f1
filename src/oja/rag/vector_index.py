"""The vector index port and its embedded implementation: exact NumPy search over ``rag_chunk``.

Why this is the default (``python -m bench.rag``, 2 cores, 384-d, top-10, one owner holding every
chunk — the worst case): see the numbers in :mod:`oja.rag` (package docstring). In short, exact
search is recall 1.0 by construction and fast enough at the sizes one deployment's SQLite or
PostgreSQL holds, while its vectors commit in the same transaction as their chunks and are shared
safely by the API and every worker process. Chroma's embedded ``PersistentClient`` is a
single-process store (its own SQLite + HNSW files), which the API + worker topology cannot share;
a Chroma *server* (``OJA_CHROMA_URL``) is the scale-out option.

The cache: each process keeps, per embedding model, one float32 matrix per owner, built from the
table and refreshed incrementally — a query first reads ``rag_index_state.version``; if it moved,
only the documents logged in ``rag_index_change`` since are reloaded. The owner filter picks that
owner's matrix and the document filter is a boolean mask over its rows, both *before* scoring, so
another owner's chunk can never take a top-K place (or be returned at all).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.ext.asyncio import AsyncSession

from oja.rag import repository

Vector = NDArray[np.float32]
Hit = tuple[uuid.UUID, float]


@dataclass(frozen=True, slots=True)
class IndexedChunk:
    id: uuid.UUID
    document_id: uuid.UUID
    owner_id: uuid.UUID
    chunk_index: int
    vector: Vector


class VectorIndex(Protocol):
    """Where chunk vectors are searched. ``session`` is the caller's unit of work: the embedded
    index reads and writes through it; a remote index is written before that work commits."""

    async def upsert(self, session: AsyncSession, chunks: Sequence[IndexedChunk]) -> None: ...

    async def delete_document(self, session: AsyncSession, document_id: uuid.UUID) -> None: ...

    async def search(
        self,
        session: AsyncSession,
        vector: Vector,
        owner_id: uuid.UUID,
        top_k: int,
        document_ids: Sequence[uuid.UUID] | None = None,
    ) -> list[Hit]:
        """Best ``top_k`` chunks of ``owner_id`` (within ``document_ids``), cosine, best first."""
        ...


def top_k_of(scores: Vector, k: int) -> NDArray[np.intp]:
    if k >= len(scores):
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


@dataclass
class _DocumentBlock:
    owner_id: uuid.UUID
    ids: list[uuid.UUID]
    vectors: Vector


@dataclass
class _OwnerMatrix:
    ids: list[uuid.UUID]
    documents: NDArray[np.int64]
    """Per row, an index into ``document_ids``."""
    document_ids: list[uuid.UUID]
    matrix: Vector


@dataclass
class MatrixCache:
    """One process's copy of one embedding model's vectors, grouped by owner."""

    model: str
    epoch: uuid.UUID | None = None
    version: int = -1
    blocks: dict[uuid.UUID, _DocumentBlock] = field(default_factory=dict)
    owners: dict[uuid.UUID, _OwnerMatrix | None] = field(default_factory=dict)

    def _load(self, rows: list[repository.VectorRow], documents: set[uuid.UUID] | None) -> None:
        touched_owners: set[uuid.UUID] = set()
        if documents is None:
            self.blocks.clear()
            self.owners.clear()
        else:
            for document_id in documents:
                old = self.blocks.pop(document_id, None)
                if old is not None:
                    touched_owners.add(old.owner_id)
        grouped: dict[uuid.UUID, list[repository.VectorRow]] = {}
        for row in rows:
            grouped.setdefault(row.document_id, []).append(row)
        for document_id, group in grouped.items():
            vectors = np.frombuffer(b"".join(r.embedding for r in group), dtype="<f4")
            self.blocks[document_id] = _DocumentBlock(
                group[0].owner_id,
                [r.id for r in group],
                vectors.reshape(len(group), -1).astype(np.float32, copy=False),
            )
            touched_owners.add(group[0].owner_id)
        for owner in touched_owners:
            self.owners[owner] = None  # rebuilt on its next search

    async def refresh(self, session: AsyncSession) -> None:
        epoch, version = await repository.current_version(session)
        if (epoch, version) == (self.epoch, self.version):
            return
        documents = None
        if epoch == self.epoch and 0 <= self.version <= version:
            documents = await repository.changed_documents(session, self.version, version)
        rows = await repository.vector_rows(session, self.model, documents)
        self._load(rows, documents)
        self.epoch, self.version = epoch, version

    def owner_matrix(self, owner_id: uuid.UUID) -> _OwnerMatrix | None:
        if owner_id in self.owners and self.owners[owner_id] is not None:
            return self.owners[owner_id]
        blocks = [(d, b) for d, b in self.blocks.items() if b.owner_id == owner_id]
        if not blocks:
            self.owners.pop(owner_id, None)
            return None
        ids: list[uuid.UUID] = []
        documents: list[int] = []
        for position, (_, block) in enumerate(blocks):
            ids.extend(block.ids)
            documents.extend([position] * len(block.ids))
        built = _OwnerMatrix(
            ids,
            np.asarray(documents, dtype=np.int64),
            [d for d, _ in blocks],
            np.ascontiguousarray(np.vstack([b.vectors for _, b in blocks])),
        )
        self.owners[owner_id] = built
        return built

    def search(
        self,
        vector: Vector,
        owner_id: uuid.UUID,
        top_k: int,
        document_ids: Sequence[uuid.UUID] | None = None,
    ) -> list[Hit]:
        owned = self.owner_matrix(owner_id)
        if owned is None or top_k <= 0:
            return []
        if document_ids is None:
            rows = None
            scores = owned.matrix @ vector
        else:
            wanted = set(document_ids)
            allowed = np.asarray(
                [i for i, d in enumerate(owned.document_ids) if d in wanted], dtype=np.int64
            )
            mask = np.isin(owned.documents, allowed)
            rows = np.flatnonzero(mask)
            if not len(rows):
                return []
            scores = owned.matrix[rows] @ vector
        best = top_k_of(np.asarray(scores, dtype=np.float32), top_k)
        if rows is None:
            return [(owned.ids[i], float(scores[i])) for i in best]
        return [(owned.ids[rows[i]], float(scores[i])) for i in best]


_caches: dict[tuple[str, str], MatrixCache] = {}


def cache_for(database_url: str, model: str) -> MatrixCache:
    key = (database_url, model)
    cache = _caches.get(key)
    if cache is None:
        cache = _caches[key] = MatrixCache(model)
    return cache


class NumpyIndex:
    """The embedded default: the ``rag_chunk`` rows are the index; searching reads them through
    the per-process :class:`MatrixCache`."""

    def __init__(self, database_url: str, model: str) -> None:
        self.cache = cache_for(database_url, model)

    async def upsert(self, session: AsyncSession, chunks: Sequence[IndexedChunk]) -> None:
        """Nothing to do: the rows the repository wrote, and the version it bumped, are the index."""

    async def delete_document(self, session: AsyncSession, document_id: uuid.UUID) -> None:
        """Nothing to do beyond the repository's delete (see :meth:`upsert`)."""

    async def search(
        self,
        session: AsyncSession,
        vector: Vector,
        owner_id: uuid.UUID,
        top_k: int,
        document_ids: Sequence[uuid.UUID] | None = None,
    ) -> list[Hit]:
        await self.cache.refresh(session)
        return self.cache.search(vector, owner_id, top_k, document_ids)
