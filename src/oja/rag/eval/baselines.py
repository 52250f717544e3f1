"""The baselines Oja's retrieval is measured against, over exactly the chunks Oja stored: Okapi
BM25 (k1 1.2, b 0.75, words lower-cased, Oja's stopwords dropped, no stemming) and dense-only
cosine search over the stored vectors (whole-chunk, or each chunk's best child). Both are plain and exact: they set the bar, not the design.
"""

from __future__ import annotations

import math
import re
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from oja.rag.repository import STOPWORDS

_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


@dataclass(frozen=True, slots=True)
class StoredChunk:
    id: uuid.UUID
    document_id: uuid.UUID
    chunk_index: int
    text: str
    vector: NDArray[np.float32]
    children: NDArray[np.float32] | None = None
    """The stored child vectors, one row each (None: not loaded, or the chunk has none)."""


class BM25:
    def __init__(self, chunks: Sequence[StoredChunk], k1: float = 1.2, b: float = 0.75) -> None:
        self.ids = [c.id for c in chunks]
        self.counts = [Counter(words(c.text)) for c in chunks]
        self.lengths = [sum(c.values()) for c in self.counts]
        self.average = sum(self.lengths) / max(1, len(self.lengths))
        frequency: Counter[str] = Counter()
        for counts in self.counts:
            frequency.update(counts.keys())
        total = len(chunks)
        self.idf = {w: math.log(1 + (total - n + 0.5) / (n + 0.5)) for w, n in frequency.items()}
        self.k1, self.b = k1, b

    def search(self, question: str, top_k: int) -> list[uuid.UUID]:
        terms = set(words(question)) & self.idf.keys()
        scored: list[tuple[float, int]] = []
        for position, counts in enumerate(self.counts):
            norm = self.k1 * (1 - self.b + self.b * self.lengths[position] / self.average)
            score = sum(
                self.idf[t] * counts[t] * (self.k1 + 1) / (counts[t] + norm)
                for t in terms
                if t in counts
            )
            if score > 0:
                scored.append((-score, position))
        scored.sort()
        return [self.ids[position] for _, position in scored[:top_k]]


class Dense:
    def __init__(self, chunks: Sequence[StoredChunk]) -> None:
        self.ids = [c.id for c in chunks]
        self.matrix = np.vstack([c.vector for c in chunks])

    def search(self, vector: NDArray[np.float32], top_k: int) -> list[uuid.UUID]:
        scores = self.matrix @ vector
        return [self.ids[i] for i in np.argsort(-scores, kind="stable")[:top_k]]


class DenseChildren:
    """Dense-only over child vectors: a chunk scores its best child's cosine (its own vector when
    it has no children)."""

    def __init__(self, chunks: Sequence[StoredChunk]) -> None:
        self.ids = [c.id for c in chunks]
        blocks = [c.children if c.children is not None else c.vector[None, :] for c in chunks]
        self.starts = np.cumsum([0, *(len(b) for b in blocks[:-1])]).astype(np.intp)
        self.matrix = np.vstack(blocks)

    def search(self, vector: NDArray[np.float32], top_k: int) -> list[uuid.UUID]:
        scores = np.maximum.reduceat(self.matrix @ vector, self.starts)
        return [self.ids[i] for i in np.argsort(-scores, kind="stable")[:top_k]]
