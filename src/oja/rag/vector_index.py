"""The vector index port and its embedded implementation: exact NumPy search over ``rag_chunk``.

Why this is the default (``python -m bench.rag``, 2 cores, 384-d, top-10, one owner holding every
chunk — the worst case): see the numbers in :mod:`oja.rag` (package docstring). In short, exact
search is recall 1.0 by construction and fast enough at the sizes one deployment's SQLite or
PostgreSQL holds, while its vectors commit in the same transaction as their chunks and are shared
safely by the API and every worker process. Chroma's embedded ``PersistentClient`` is a
single-process store (its own SQLite + HNSW files), which the API + worker topology cannot share;
a Chroma *server* (``OJA_CHROMA_URL``) is the scale-out option.

Small-chunk/parent: what is searched are each chunk's child vectors (``rag_chunk_vector``,
overlapping windows of its text); a chunk's cosine is its best child's, and chunks are what come
back. A chunk without children (indexed before the table existed) counts its own vector as its one
child.

The cache: each process keeps, per embedding model, one float32 child matrix per owner, built from
the tables and refreshed incrementally — a query first reads ``rag_index_state.version``; if it moved,
only the documents logged in ``rag_index_change`` since are reloaded. The owner filter picks that
owner's matrix before scoring, and the document filter is a mask over its chunks before the top K
is taken, so another owner's or document's chunk can never take a top-K place (or be returned).
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
    children: Vector
    """One unit row per child window of the chunk's text (at least one)."""


def best_child(children: Vector, vector: Vector) -> float:
    """A chunk's cosine with ``vector``: the best of its child windows'."""
    return float(np.max(children @ vector))


class VectorIndex(Protocol):
    """Where chunk vectors are searched. ``session`` is the caller's unit of work: the embedded
    index reads and writes through it; a remote index is written before that work commits.

    A chunk's cosine is its best child window's (small-chunk/parent): children are searched,
    chunks are returned, each once."""

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

    async def cosines(
        self,
        session: AsyncSession,
        vector: Vector,
        owner_id: uuid.UUID,
        ids: Sequence[uuid.UUID],
    ) -> dict[uuid.UUID, float]:
        """The cosine :meth:`search` gives each of ``ids`` that ``owner_id`` owns."""
        ...


def top_k_of(scores: Vector, k: int) -> NDArray[np.intp]:
    if k >= len(scores):
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


def children_of(row: repository.VectorRow) -> Vector:
    """The row's child vectors; its whole-chunk vector when it has none (indexed before them)."""
    blobs = row.children or [row.embedding]
    vectors = np.frombuffer(b"".join(blobs), dtype="<f4")
    return vectors.reshape(len(blobs), -1).astype(np.float32, copy=False)


@dataclass
class _DocumentBlock:
    owner_id: uuid.UUID
    ids: list[uuid.UUID]
    counts: list[int]
    """Child vectors per chunk, in the order of ``ids``."""
    vectors: Vector
    """Every chunk's child vectors, grouped by chunk."""


@dataclass
class _OwnerMatrix:
    ids: list[uuid.UUID]
    documents: NDArray[np.int64]
    """Per chunk, an index into ``document_ids``."""
    document_ids: list[uuid.UUID]
    starts: NDArray[np.intp]
    """Per chunk, the row of its first child in ``matrix`` (``np.maximum.reduceat`` offsets)."""
    matrix: Vector
    """Child vectors, grouped by chunk in the order of ``ids``."""
    positions: dict[uuid.UUID, int] = field(default_factory=dict)

    def scores(self, vector: Vector) -> Vector:
        """Every chunk's best child cosine with ``vector``."""
        return np.asarray(np.maximum.reduceat(self.matrix @ vector, self.starts), np.float32)

    def cosine(self, chunk_id: uuid.UUID, vector: Vector) -> float | None:
        if not self.positions:
            self.positions = {item: i for i, item in enumerate(self.ids)}
        at = self.positions.get(chunk_id)
        if at is None:
            return None
        end = self.starts[at + 1] if at + 1 < len(self.starts) else len(self.matrix)
        return best_child(self.matrix[self.starts[at] : end], vector)


@dataclass
class MatrixCache:
    """One process's copy of one embedding model's child vectors, grouped by owner."""

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
            children = [children_of(r) for r in group]
            self.blocks[document_id] = _DocumentBlock(
                group[0].owner_id,
                [r.id for r in group],
                [len(c) for c in children],
                np.vstack(children),
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
        counts: list[int] = []
        for position, (_, block) in enumerate(blocks):
            ids.extend(block.ids)
            documents.extend([position] * len(block.ids))
            counts.extend(block.counts)
        starts = np.zeros(len(counts), dtype=np.intp)
        np.cumsum(counts[:-1], out=starts[1:])
        built = _OwnerMatrix(
            ids,
            np.asarray(documents, dtype=np.int64),
            [d for d, _ in blocks],
            starts,
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
        # Every child is scored even under a document filter: one product over the contiguous
        # matrix costs less than copying the filtered rows out of it.
        scores = owned.scores(vector)
        if document_ids is None:
            best = top_k_of(scores, top_k)
            return [(owned.ids[i], float(scores[i])) for i in best]
        wanted = set(document_ids)
        allowed = np.asarray(
            [i for i, d in enumerate(owned.document_ids) if d in wanted], dtype=np.int64
        )
        rows = np.flatnonzero(np.isin(owned.documents, allowed))
        if not len(rows):
            return []
        best = top_k_of(scores[rows], top_k)
        return [(owned.ids[rows[i]], float(scores[rows[i]])) for i in best]

    def cosines(
        self, vector: Vector, owner_id: uuid.UUID, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, float]:
        owned = self.owner_matrix(owner_id)
        if owned is None:
            return {}
        found = {item: owned.cosine(item, vector) for item in ids}
        return {item: score for item, score in found.items() if score is not None}


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

    async def cosines(
        self,
        session: AsyncSession,
        vector: Vector,
        owner_id: uuid.UUID,
        ids: Sequence[uuid.UUID],
    ) -> dict[uuid.UUID, float]:
        await self.cache.refresh(session)
        return self.cache.cosines(vector, owner_id, ids)
