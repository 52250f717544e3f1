"""Embedding chunks and questions: MiniLM in-process by default, OpenRouter through the AI port.

Vectors come back as one float32 matrix of unit rows. ``name`` (``provider/model``) and ``dimension``
are stored with every chunk: vectors of different models live in different spaces, so a chunk is
only ever compared with a question embedded by the same model, and a model change re-indexes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from oja.core.ai import AISettings, Embedder, open_embedder
from oja.core.config import Settings
from oja.rag import minilm
from oja.rag.config import RagSettings

Matrix = NDArray[np.float32]
MINILM_NAME = "local/sentence-transformers/all-MiniLM-L6-v2"


class ChunkEmbedder(Protocol):
    name: str

    async def embed(self, texts: Sequence[str]) -> Matrix:
        """One unit row per text, in order."""
        ...


def normalise(vectors: Matrix) -> Matrix:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2; text past the model's 256-token window is embedded in windows and pooled."""

    name = MINILM_NAME

    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = batch_size

    def embed_sync(self, texts: Sequence[str]) -> Matrix:
        return minilm.load().embed_long(list(texts), batch_size=self.batch_size)

    async def embed(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, minilm.DIMENSION), dtype=np.float32)
        return await asyncio.to_thread(self.embed_sync, texts)


class PortEmbedder:
    """Any :class:`~oja.core.ai.Embedder` of the AI port, batched and normalised."""

    def __init__(self, embedder: Embedder, batch_size: int) -> None:
        self._embedder = embedder
        self.name = f"{self._embedder.provider}/{self._embedder.model}"
        self.batch_size = batch_size

    async def embed(self, texts: Sequence[str]) -> Matrix:
        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            rows.extend(await self._embedder.embed(list(texts[start : start + self.batch_size])))
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return normalise(np.asarray(rows, dtype=np.float32))


def embedding_name(settings: Settings) -> str:
    """The name chunks embedded now are recorded under (no network call)."""
    if settings.section(RagSettings).embedding_provider == "openrouter":
        return f"openrouter/{settings.section(AISettings).embedding_model}"
    return MINILM_NAME


@asynccontextmanager
async def open_chunk_embedder(settings: Settings) -> AsyncIterator[ChunkEmbedder]:
    rag = settings.section(RagSettings)
    if rag.embedding_provider == "openrouter":
        async with open_embedder(settings.section(AISettings), provider="openrouter") as port:
            yield PortEmbedder(port, rag.embedding_batch_size)
        return
    yield MiniLMEmbedder(rag.embedding_batch_size)
