"""The server option: a ChromaDB server (``OJA_CHROMA_URL``) as the vector index.

Oja always passes its own vectors (``embedding_function=None``: Chroma's default function would
download a model). One collection per embedding model, cosine space; every record carries
``owner_id`` and ``document_id`` metadata and the owner filter is a ``where`` inside the query, so
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

from oja.rag.vector_index import Hit, IndexedChunk, Vector


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
            by_document.setdefault(chunk.document_id, set()).add(str(chunk.id))
        if chunks:
            collection.upsert(
                ids=[str(c.id) for c in chunks],
                embeddings=np.vstack([c.vector for c in chunks]).astype(np.float32),
                metadatas=[
                    {
                        "owner_id": str(c.owner_id),
                        "document_id": str(c.document_id),
                        "chunk_index": c.chunk_index,
                    }
                    for c in chunks
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
        collection = self._get()
        if document_id is None:
            return int(collection.count())
        return len(collection.get(where={"document_id": str(document_id)}, include=[])["ids"])

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
            n_results=top_k,
            where=where,
            include=["distances"],
        )
        ids, distances = result["ids"][0], (result["distances"] or [[]])[0]
        return [(uuid.UUID(i), 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]

    async def search(
        self,
        session: AsyncSession,
        vector: Vector,
        owner_id: uuid.UUID,
        top_k: int,
        document_ids: Sequence[uuid.UUID] | None = None,
    ) -> list[Hit]:
        return await asyncio.to_thread(self._search, vector, owner_id, top_k, document_ids)
