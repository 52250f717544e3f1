"""Tables of the retrieval module.

``rag_chunk`` holds every chunk with its text, its place in the document, its content hash and its
embedding (float32 bytes, with the model and dimension that produced it): the chunks and their
vectors change in the same transaction, so the API and the workers never see one without the other.
Chunk ids are derived from (document, index, content hash), so re-indexing unchanged text yields the
same ids. ``rowkey`` is a stable 63-bit integer derived from the id: the FTS5 rowid on SQLite, where
triggers (created by the migration) keep ``rag_chunk_fts`` equal to this table, cascades included.

``rag_chunk_vector`` holds each chunk's child vectors (overlapping windows of its text): dense search
scores a chunk by its best child. A chunk indexed before that table existed has none and is scored by
its own vector until ``rag.reindex_stale`` re-indexes its document.

``rag_index_state`` holds one counter bumped by every write; ``rag_index_change`` names the
documents each version touched, so a process's in-memory vector matrix refreshes only those.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.clock import utcnow
from oja.core.db import Base

_CHUNK_NAMESPACE = uuid.UUID("5b1f6a2e-3c1d-4b7e-9a51-0c2d7e6f8a90")


def chunk_id(document_id: uuid.UUID, index: int, content_hash: str) -> uuid.UUID:
    return uuid.uuid5(_CHUNK_NAMESPACE, f"{document_id}:{index}:{content_hash}")


def rowkey_of(id_: uuid.UUID) -> int:
    return int.from_bytes(id_.bytes[:8], "big") >> 1


class RagChunk(Base):
    __tablename__ = "rag_chunk"
    __table_args__ = (
        UniqueConstraint("document_id", "chunk_index"),
        Index("ix_rag_chunk_owner_id_embedding_model", "owner_id", "embedding_model"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    rowkey: Mapped[int] = mapped_column(BigInteger, unique=True)
    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("document.id", ondelete="CASCADE"), index=True
    )
    owner_id: Mapped[uuid.UUID] = mapped_column()
    chunk_index: Mapped[int] = mapped_column()
    text: Mapped[str] = mapped_column(Text)
    start_char: Mapped[int] = mapped_column()
    """Offset of the chunk's first character in the document's text: ``text == doc[start:end]``."""
    end_char: Mapped[int] = mapped_column()
    token_count: Mapped[int] = mapped_column()
    content_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the chunk text (hex)."""
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    """Unit vector, little-endian float32."""
    embedding_model: Mapped[str] = mapped_column(String(200))
    """``provider/model``; chunks of another model are not searched until re-indexed."""
    embedding_dim: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RagIndexState(Base):
    __tablename__ = "rag_index_state"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    epoch: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    """New whenever the row is (re)created, so a cache never trusts a counter that restarted."""
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class RagIndexChange(Base):
    __tablename__ = "rag_index_change"

    version: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    document_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RagChunkVector(Base):
    """A chunk's child vectors: the chunk's text as overlapping windows of a few MiniLM word-pieces,
    each embedded by the chunk's model. Dense search scores a chunk by its best child; the chunk
    itself is what is returned and cited. Written with the chunk, deleted with it (cascade)."""

    __tablename__ = "rag_chunk_vector"

    chunk_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("rag_chunk.id", ondelete="CASCADE"), primary_key=True
    )
    window_index: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    """Unit vector, little-endian float32, of the chunk's ``embedding_model``."""
