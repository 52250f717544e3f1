"""Small-chunk/parent retrieval, measured offline: does the dense side gain from
scoring each stored chunk by its best small child window instead of one whole-chunk vector?

Nothing here changes what Oja stores or how ``retrieve`` answers. Over exactly the chunks Oja
stored, each chunk is split into overlapping windows of ``window`` MiniLM word-pieces
(:meth:`oja.rag.minilm.MiniLM.windows`), every window is embedded by the same MiniLM, and a chunk's
child cosine is the maximum over its windows. Measured, for every question of a corpus:

- MiniLM-only ranking by whole-chunk cosine (the stored vectors) and by max-child cosine;
- Oja's fusion (:func:`oja.rag.service.fuse` rules: the 30 best by cosine with cosine ≥ the
  configured floor, plus the real keyword index's 30 best; score ``relevance / best relevance +
  weight × cosine``) with whole-chunk cosine and with max-child cosine, at the runtime weight and
  at every weight of :data:`WEIGHTS` (the best one reported beside it);
- the cost: child vectors per chunk, the time to embed the children against re-embedding the
  whole chunks, and one question's dense scoring time (a matrix-vector product, plus the max per
  chunk) over the corpus and over 10,000 random chunks, on one BLAS thread as ``retrieve`` runs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from oja.core.db import unit_of_work
from oja.core.runtime import Runtime
from oja.rag import blas, minilm, repository
from oja.rag.config import RagSettings
from oja.rag.embedding import open_chunk_embedder
from oja.rag.eval import TOP_K, Corpus, Report, Score, rank_of, stored_chunks
from oja.rag.eval.baselines import StoredChunk
from oja.rag.service import VECTOR_WEIGHT

WINDOWS = ((128, 96), (64, 48))
"""Child windows measured: (word-pieces, stride) — 128 and 64 tokens, a quarter of each overlapping."""
WEIGHTS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
"""Vector weights tried for the re-tuned fusion rows."""
SCALE = 10_000
"""Chunks in the synthetic matrix the per-query scoring time is also measured on."""

DENSE_WHOLE, DENSE_CHILDREN = "MiniLM cosine only, whole chunk", "MiniLM cosine only, max child"


def fusion_name(dense: str, weight: float) -> str:
    return f"fusion, {dense} cosine, weight {weight:g}"


@dataclass(frozen=True, slots=True)
class Cost:
    """What the child vectors cost on this machine."""

    chunks: int
    children: int
    embed_whole: float
    """Seconds to embed every stored chunk again (the runtime's ``embed_long``), best of two."""
    embed_children: float
    """Seconds to embed every child window, best of two, interleaved with the chunks'."""
    query_whole: float
    """Seconds per question for the whole-chunk matrix-vector product over the corpus."""
    query_children: float
    """Seconds per question for the children's product and the max per chunk over the corpus."""
    scaled_whole: float
    """As ``query_whole``, over :data:`SCALE` random chunks."""
    scaled_children: float
    """As ``query_children``, over :data:`SCALE` random chunks with the corpus's children per chunk."""


@dataclass(frozen=True, slots=True)
class ChildReport:
    report: Report
    cost: Cost
    window: int
    stride: int


class Children:
    """Every stored chunk's child window vectors, rows grouped by chunk in the chunks' order."""

    def __init__(self, matrix: NDArray[np.float32], starts: NDArray[np.intp]) -> None:
        self.matrix = matrix
        self.starts = starts
        """Row of each chunk's first child (``np.maximum.reduceat`` offsets)."""

    def cosines(self, question: NDArray[np.float32]) -> NDArray[np.float32]:
        """Each chunk's best child cosine with ``question``."""
        return np.asarray(np.maximum.reduceat(self.matrix @ question, self.starts), np.float32)


def split(texts: Sequence[str], window: int, stride: int) -> tuple[list[str], NDArray[np.intp]]:
    """Every text's windows, flattened, and the index of each text's first window."""
    model = minilm.load()
    pieces: list[str] = []
    starts: list[int] = []
    for text in texts:
        starts.append(len(pieces))
        pieces.extend(model.windows(text, window=window, stride=stride))
    return pieces, np.array(starts, dtype=np.intp)


def fused(
    keyword_hits: Sequence[tuple[int, float]],
    cosines: NDArray[np.float32],
    *,
    candidates: int,
    floor: float,
    weight: float,
) -> list[int]:
    """Chunk positions best first, by the rules of ``retrieve``: the ``candidates`` best by cosine
    that reach ``floor`` plus every keyword hit, scored ``relevance / best + weight × cosine``."""
    best = max((score for _, score in keyword_hits), default=0.0)
    shares = {item: score / best for item, score in keyword_hits} if best > 0 else {}
    order = np.argsort(-cosines, kind="stable")[:candidates]
    wanted = [int(i) for i in order if cosines[i] >= floor] + [i for i, _ in keyword_hits]
    scores = {i: shares.get(i, 0.0) + weight * float(cosines[i]) for i in dict.fromkeys(wanted)}
    return sorted(scores, key=lambda i: -scores[i])


def per_query(matrix: NDArray[np.float32], starts: NDArray[np.intp] | None, rounds: int) -> float:
    """Mean seconds of one question's dense scoring over ``matrix`` (max per chunk if ``starts``)."""
    rng = np.random.default_rng(0)
    questions = rng.standard_normal((rounds, matrix.shape[1])).astype(np.float32)
    with blas.one_thread():
        started = time.perf_counter()
        for question in questions:
            scores = matrix @ question
            if starts is not None:
                scores = np.maximum.reduceat(scores, starts)
        return (time.perf_counter() - started) / rounds


def scaled(children_per_chunk: float) -> tuple[float, float]:
    """Per-query scoring seconds over :data:`SCALE` random chunks: whole vectors, then children."""
    rng = np.random.default_rng(1)
    whole = rng.standard_normal((SCALE, minilm.DIMENSION)).astype(np.float32)
    rows = round(SCALE * children_per_chunk)
    kids = rng.standard_normal((rows, minilm.DIMENSION)).astype(np.float32)
    starts = np.linspace(0, rows, SCALE, endpoint=False).astype(np.intp)
    return per_query(whole, None, 50), per_query(kids, starts, 50)


async def evaluate_children(
    runtime: Runtime,
    owner_id: uuid.UUID,
    names: dict[uuid.UUID, str],
    corpus: Corpus,
    *,
    window: int,
    stride: int,
) -> ChildReport:
    """Whole-chunk against max-child cosine, dense-only and fused, over the stored chunks."""
    settings = runtime.settings.section(RagSettings)
    stored: list[StoredChunk] = await stored_chunks(runtime, owner_id)
    chunks = {c.id: c for c in stored}
    ids = [c.id for c in stored]
    position = {item: i for i, item in enumerate(ids)}
    whole = np.vstack([c.vector for c in stored])
    texts = [c.text for c in stored]
    pieces, starts = split(texts, window, stride)
    model = minilm.load()
    embed_whole = embed_children = float("inf")
    for _ in range(2):  # interleaved, best of two: the machine is shared
        started = time.perf_counter()
        model.embed_long(texts)
        embed_whole = min(embed_whole, time.perf_counter() - started)
        started = time.perf_counter()
        children = Children(model.embed(pieces), starts)
        embed_children = min(embed_children, time.perf_counter() - started)

    async with open_chunk_embedder(runtime.settings) as embedder:
        vectors = await embedder.embed([q.text for q in corpus.questions])
        model_name = embedder.name
    dense = {DENSE_WHOLE: Score(DENSE_WHOLE), DENSE_CHILDREN: Score(DENSE_CHILDREN)}
    fusion = {
        (kind, weight): Score(fusion_name(kind, weight))
        for kind in ("whole-chunk", "max-child")
        for weight in sorted({VECTOR_WEIGHT, *WEIGHTS})
    }
    candidates = max(settings.query_candidates, TOP_K)
    for question, vector in zip(corpus.questions, vectors, strict=True):
        async with unit_of_work(runtime.database) as session:
            hits = await repository.keyword_search(
                session, question.text, owner_id=owner_id, model=model_name, limit=candidates
            )
        keyword = [(position[item], score) for item, score in hits]
        cosines = {"whole-chunk": whole @ vector, "max-child": children.cosines(vector)}
        for label, kind in ((DENSE_WHOLE, "whole-chunk"), (DENSE_CHILDREN, "max-child")):
            ranked = [ids[i] for i in np.argsort(-cosines[kind], kind="stable")[:TOP_K]]
            dense[label].add(question, rank_of(question, ranked, chunks, names))
        for (kind, weight), score in fusion.items():
            order = fused(
                keyword,
                cosines[kind],
                candidates=candidates,
                floor=settings.query_min_score,
                weight=weight,
            )
            score.add(question, rank_of(question, [ids[i] for i in order], chunks, names))

    rounds = max(200, len(corpus.questions))
    scaled_whole, scaled_children = scaled(len(pieces) / len(stored))
    cost = Cost(
        len(stored),
        len(pieces),
        embed_whole,
        embed_children,
        per_query(whole, None, rounds),
        per_query(children.matrix, starts, rounds),
        scaled_whole,
        scaled_children,
    )
    report = Report(
        corpus.name,
        len(corpus.documents),
        len(stored),
        len(corpus.questions),
        [*dense.values(), *fusion.values()],
    )
    return ChildReport(report, cost, window, stride)


def best_weight(report: Report, kind: str) -> Score:
    """The re-tuned row: the weight with the best hit@1 (then MRR@5) for ``kind`` cosine."""
    rows = [s for s in report.scores if s.system.startswith(f"fusion, {kind} ")]
    return max(rows, key=lambda s: (s.hit_at_1, s.mrr))
