"""The server option: a ChromaDB server (``OJA_CHROMA_URL``) as the vector index.

Oja always passes its own vectors (``embedding_function=None``: Chroma's default function would
download a model). One collection per embedding model, cosine space; a record is one child window
of a chunk (id ``chunk id:window``), carrying ``chunk_id``, ``owner_id`` and ``document_id``
metadata; a search over-fetches children and keeps each chunk's best. The owner filter and the owner filter is a ``where`` inside the query, so
Chroma's top-K is taken among the owner's chunks only. ``rag_chunk`` stays the source of truth:
writes reach Chroma before the database commits (a failure rolls the job back and it retries), and
chunk ids are deterministic, so a retry overwrites rather than duplicates.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from oja.rag import repository
from oja.rag.vector_index import Hit, IndexedChunk, Vector, best_child, children_of

CHILDREN_PER_HIT = 8
"""Children fetched per chunk wanted: a chunk's windows crowd the nearest records, and the
chunks with the best child must fill ``top_k`` after duplicates go (3.9 children per chunk)."""


def collection_name(prefix: str, model: str) -> str:
    return f"{prefix}_{hashlib.sha256(model.encode()).hexdigest()[:16]}"


class ChromaIndex:
    def __init__(self, url: str, model: str, prefix: str = "oja_chunks") -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        parts = urlsplit(url)
        self._client = chromadb.HttpClient(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (443 if parts.scheme == "https" else 8000),
            ssl=parts.scheme == "https",
            settings=ChromaSettings(anonymized_telemetry=False),
        )
        self.prefix = prefix
        self.name = collection_name(prefix, model)
        self.model = model
        self._collection: Any = None

    def _get(self) -> Any:
        if self._collection is None:
            self._collection = self._client.get_or_create_collection(
                self.name,
                embedding_function=None,
                metadata={"hnsw:space": "cosine", "embedding_model": self.model},
            )
        return self._collection

    def _upsert(self, chunks: Sequence[IndexedChunk]) -> None:
        collection = self._get()
        by_document: dict[uuid.UUID, set[str]] = {}
        for chunk in chunks:
            keys = by_document.setdefault(chunk.document_id, set())
            keys.update(f"{chunk.id}:{w}" for w in range(len(chunk.children)))
        if chunks:
            collection.upsert(
                ids=[f"{c.id}:{w}" for c in chunks for w in range(len(c.children))],
                embeddings=np.vstack([c.children for c in chunks]).astype(np.float32),
                metadatas=[
                    {
                        "chunk_id": str(c.id),
                        "owner_id": str(c.owner_id),
                        "document_id": str(c.document_id),
                        "chunk_index": c.chunk_index,
                    }
                    for c in chunks
                    for _ in range(len(c.children))
                ],
            )
        for document_id, keep in by_document.items():  # chunks the new text no longer has
            existing = collection.get(where={"document_id": str(document_id)}, include=[])
            stale = [i for i in existing["ids"] if i not in keep]
            if stale:
                collection.delete(ids=stale)

    async def upsert(self, session: AsyncSession, chunks: Sequence[IndexedChunk]) -> None:
        await asyncio.to_thread(self._upsert, chunks)

    def _delete(self, document_id: uuid.UUID) -> None:
        self._get().delete(where={"document_id": str(document_id)})

    async def delete_document(self, session: AsyncSession, document_id: uuid.UUID) -> None:
        await asyncio.to_thread(self._delete, document_id)

    def _delete_everywhere(self, document_id: uuid.UUID) -> None:
        for collection in self._client.list_collections():
            if collection.name.startswith(f"{self.prefix}_"):
                collection.delete(where={"document_id": str(document_id)})

    async def delete_everywhere(self, document_id: uuid.UUID) -> None:
        """Remove the document from the collections of every embedding model."""
        await asyncio.to_thread(self._delete_everywhere, document_id)

    def count(self, document_id: uuid.UUID | None = None) -> int:
        """Chunks (not child records) held, in all or in one document."""
        where = None if document_id is None else {"document_id": str(document_id)}
        records = self._get().get(where=where, include=["metadatas"])
        metadatas = records["metadatas"] or [{}] * len(records["ids"])
        return len({m.get("chunk_id", i) for i, m in zip(records["ids"], metadatas, strict=True)})

    def _search(
        self,
        vector: Vector,
        owner_id: uuid.UUID,
        top_k: int,
        document_ids: Sequence[uuid.UUID] | None,
    ) -> list[Hit]:
        where: dict[str, Any] = {"owner_id": str(owner_id)}
        if document_ids is not None:
            if not document_ids:
                return []
            where = {"$and": [where, {"document_id": {"$in": [str(d) for d in document_ids]}}]}
        result = self._get().query(
            query_embeddings=np.asarray([vector], dtype=np.float32),
            n_results=top_k * CHILDREN_PER_HIT,
            where=where,
            include=["distances", "metadatas"],
        )
        ids = result["ids"][0]
        metadatas, distances = (result["metadatas"] or [[]])[0], (result["distances"] or [[]])[0]
        best: dict[uuid.UUID, float] = {}
        for record, metadata, distance in zip(ids, metadatas, distances, strict=True):
            chunk = metadata.get("chunk_id", record)  # a record written before children: the chunk
            best.setdefault(uuid.UUID(str(chunk)), 1.0 - float(distance))
        return list(best.items())[:top_k]  # nearest first, so a chunk's first child is its best

    async def search(
        self,
        session: AsyncSession,
        vector: Vector,
        owner_id: uuid.UUID,
        top_k: int,
        document_ids: Sequence[uuid.UUID] | None = None,
    ) -> list[Hit]:
        return await asyncio.to_thread(self._search, vector, owner_id, top_k, document_ids)

    async def cosines(
        self,
        session: AsyncSession,
        vector: Vector,
        owner_id: uuid.UUID,
        ids: Sequence[uuid.UUID],
    ) -> dict[uuid.UUID, float]:
        """From the database's copy of the children: Chroma returns no vectors of its own."""
        rows = await repository.chunk_vectors(session, ids, owner_id)
        return {row.id: best_child(children_of(row), vector) for row in rows}
