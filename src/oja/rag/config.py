"""Retrieval settings (``OJA_`` prefix): a section of the runtime's :class:`~oja.core.config.Settings`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from oja.core.config import SettingsSection
from oja.core.dependencies import RuntimeDep


class RagSettings(SettingsSection):
    embedding_provider: Literal["local", "openrouter"] = "local"
    """`local`: all-MiniLM-L6-v2 in-process (384-d). `openrouter`: OJA_EMBEDDING_MODEL through OpenRouter."""
    chroma_url: str | None = None
    """A ChromaDB server (`http://host:8000`) for the vector index. Unset: exact NumPy search over the database."""
    chroma_collection_prefix: str = "oja_chunks"
    """Chroma collection name prefix; one collection per embedding model."""
    chunk_min_tokens: int = Field(default=300, ge=16)
    """A chunk is closed at a paragraph end once it has this many word-piece tokens."""
    chunk_max_tokens: int = Field(default=600, ge=32)
    """No chunk grows past this many tokens (a lone sentence or table larger than this is split)."""
    chunk_overlap: float = Field(default=0.15, ge=0, le=0.5)
    """Share of a chunk's tokens repeated, as whole sentences, at the start of the next chunk."""
    embedding_batch_size: int = Field(default=32, ge=1)
    """Texts per embedding call."""
    query_min_score: float = Field(default=0.25, ge=-1, le=1)
    """Default cosine similarity below which a chunk found only by the vector search is not used (keyword matches are kept)."""
    query_candidates: int = Field(default=30, ge=1)
    """Candidates taken from each of the vector and keyword indexes before fusion."""
    index_job_timeout: float = Field(default=600.0, gt=0)
    """Seconds one indexing job may run (read when the worker starts)."""


async def get_rag_settings(runtime: RuntimeDep) -> RagSettings:
    """The retrieval section of the app's settings; jobs read ``ctx.runtime.settings`` instead."""
    return runtime.settings.section(RagSettings)
