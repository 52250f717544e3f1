"""Retrieval quality, measured on two corpora and against baselines in the same run.

- ``synthetic``: 32 documents written for Oja on distinct topics (``documents.md``) and 64
  paraphrased questions (``questions.tsv``), each naming its document and a phrase the right chunk
  contains.
- ``squad``: real text no one wrote for Oja — six Wikipedia articles with their crowd-sourced
  questions and answer spans from SQuAD (``squad/``, CC BY-SA 4.0, see its README).

:func:`evaluate` indexes a corpus through the real pipeline (chunking, the configured embedder and
vector index, the keyword index, fusion, thresholds) and asks every question through
:func:`oja.rag.service.retrieve` with ``top_k`` 5; the baselines (:mod:`.baselines`) search exactly
the chunks Oja stored. A hit is a chunk of the right document that contains a gold answer.
``python -m oja.rag.eval`` prints the tables; ``tests/rag/test_eval.py`` is the gate.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import select

from oja.core.db import unit_of_work
from oja.core.runtime import Runtime
from oja.documents.models import Document, DocumentStatus
from oja.rag import repository, service
from oja.rag.embedding import open_chunk_embedder
from oja.rag.eval.baselines import BM25, Dense, DenseChildren, StoredChunk
from oja.rag.models import RagChunk

HERE = Path(__file__).resolve().parent
TOP_K = 5


@dataclass(frozen=True, slots=True)
class Question:
    document: str
    text: str
    answers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Corpus:
    name: str
    documents: dict[str, str]
    questions: list[Question]


@dataclass
class Score:
    """hit@1, hit@5 and MRR@5 of one system over one corpus's questions."""

    system: str
    ranks: list[int | None] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    def add(self, question: Question, rank: int | None) -> None:
        self.ranks.append(rank)
        if rank is None:
            self.misses.append(question.text)

    @property
    def hit_at_1(self) -> float:
        return sum(r == 1 for r in self.ranks) / len(self.ranks)

    @property
    def hit_at_5(self) -> float:
        return sum(r is not None for r in self.ranks) / len(self.ranks)

    @property
    def mrr(self) -> float:
        return sum(1 / r for r in self.ranks if r is not None) / len(self.ranks)


@dataclass(frozen=True, slots=True)
class Report:
    corpus: str
    documents: int
    chunks: int
    questions: int
    scores: list[Score]

    def of(self, system: str) -> Score:
        return next(s for s in self.scores if s.system == system)


OJA, BM25_BASELINE, DENSE_BASELINE, DENSE_CHILDREN_BASELINE = (
    "Oja `retrieve`",
    "BM25 over Oja's chunks",
    "MiniLM cosine only, whole chunk",
    "MiniLM cosine only, max child",
)


def oja_at(weight: float) -> str:
    """The name of Oja's row with the fusion's vector weight set to ``weight``."""
    return f"{OJA}, vector weight {weight:g}"


def load_sections(path: Path) -> dict[str, str]:
    """``## name`` headed sections of a markdown file, name → text."""
    documents: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = documents.setdefault(line[3:].strip(), [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines).strip() + "\n" for name, lines in documents.items()}


def synthetic_corpus() -> Corpus:
    rows = (HERE / "questions.tsv").read_text(encoding="utf-8").splitlines()[1:]
    questions = []
    for row in rows:
        if row.strip():
            document, phrase, text = row.split("\t")
            questions.append(Question(document, text, (phrase,)))
    return Corpus("synthetic", load_sections(HERE / "documents.md"), questions)


def squad_corpus(names: Sequence[str] | None = None) -> Corpus:
    """The SQuAD corpus, or only its articles called ``names`` (a smaller one, for the tests)."""
    texts = load_sections(HERE / "squad" / "documents.md")
    kept = {name: texts[name] for name in names} if names is not None else texts
    questions = []
    for line in (HERE / "squad" / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["document"] in kept:
            questions.append(Question(row["document"], row["question"], tuple(row["answers"])))
    return Corpus("squad", kept, questions)


CORPORA: dict[str, Callable[[], Corpus]] = {"synthetic": synthetic_corpus, "squad": squad_corpus}


def text_document(
    document_id: uuid.UUID, owner_id: uuid.UUID, filename: str, text: str
) -> Document:
    """A document row as the documents pipeline leaves a TXT upload: text extracted, not indexed."""
    return Document(
        id=document_id,
        owner_id=owner_id,
        filename=filename,
        storage_key=f"eval/{document_id}",
        kind="txt",
        content_type="text/plain",
        size=len(text.encode()),
        sha256="0" * 64,
        status=DocumentStatus.UPLOADED,
        text=text,
    )


async def add_corpus(runtime: Runtime, owner_id: uuid.UUID, corpus: Corpus) -> dict[uuid.UUID, str]:
    """Store and index every document of ``corpus`` for ``owner_id``; document id → corpus name."""
    names: dict[uuid.UUID, str] = {}
    async with unit_of_work(runtime.database) as session:
        for name, text in corpus.documents.items():
            document_id = uuid.uuid4()
            names[document_id] = name
            session.add(text_document(document_id, owner_id, f"{name}.txt", text))
    for document_id in names:
        async with unit_of_work(runtime.database) as session:
            await service.index_document(session, runtime, document_id)
    return names


async def stored_chunks(runtime: Runtime, owner_id: uuid.UUID) -> list[StoredChunk]:
    async with unit_of_work(runtime.database) as session:
        rows = await session.execute(
            select(
                RagChunk.id,
                RagChunk.document_id,
                RagChunk.chunk_index,
                RagChunk.text,
                RagChunk.embedding,
            )
            .where(RagChunk.owner_id == owner_id)
            .order_by(RagChunk.document_id, RagChunk.chunk_index)
        )
        found = list(rows)
        children = {
            row.id: row.children
            for row in await repository.chunk_vectors(session, [r.id for r in found], owner_id)
            if row.children
        }
        return [
            StoredChunk(
                r.id,
                r.document_id,
                r.chunk_index,
                r.text,
                np.frombuffer(r.embedding, dtype="<f4"),
                np.frombuffer(b"".join(children[r.id]), dtype="<f4").reshape(
                    len(children[r.id]), -1
                )
                if r.id in children
                else None,
            )
            for r in found
        ]


def rank_of(
    question: Question,
    ranked: Sequence[uuid.UUID],
    chunks: dict[uuid.UUID, StoredChunk],
    names: dict[uuid.UUID, str],
) -> int | None:
    for position, item in enumerate(ranked[:TOP_K], start=1):
        chunk = chunks[item]
        if names.get(chunk.document_id) == question.document and any(
            answer in chunk.text for answer in question.answers
        ):
            return position
    return None


async def evaluate(
    runtime: Runtime,
    owner_id: uuid.UUID,
    names: dict[uuid.UUID, str],
    corpus: Corpus,
    weights: Sequence[float] = (),
) -> Report:
    """Oja (``retrieve`` as indexed) and the baselines, then Oja again at each of ``weights``
    (the fusion's vector weight; the weight sweep)."""
    stored = await stored_chunks(runtime, owner_id)
    chunks = {c.id: c for c in stored}
    by_place = {(c.document_id, c.chunk_index): c.id for c in stored}
    bm25, dense, dense_children = BM25(stored), Dense(stored), DenseChildren(stored)
    oja, keyword = Score(OJA), Score(BM25_BASELINE)
    vector, child = Score(DENSE_BASELINE), Score(DENSE_CHILDREN_BASELINE)
    swept = {weight: Score(oja_at(weight)) for weight in weights}
    async with open_chunk_embedder(runtime.settings) as embedder:
        vectors = await embedder.embed([q.text for q in corpus.questions])
    for question, question_vector in zip(corpus.questions, vectors, strict=True):
        for weight, score in [(service.VECTOR_WEIGHT, oja), *swept.items()]:
            async with unit_of_work(runtime.database) as session:
                contexts = await service.retrieve(
                    session,
                    runtime,
                    owner_id=owner_id,
                    question=question.text,
                    top_k=TOP_K,
                    vector_weight=weight,
                )
            found = [by_place[c.document_id, c.chunk_index] for c in contexts]
            score.add(question, rank_of(question, found, chunks, names))
        keyword.add(question, rank_of(question, bm25.search(question.text, TOP_K), chunks, names))
        vector.add(question, rank_of(question, dense.search(question_vector, TOP_K), chunks, names))
        child.add(
            question,
            rank_of(question, dense_children.search(question_vector, TOP_K), chunks, names),
        )
    return Report(
        corpus.name,
        len(corpus.documents),
        len(stored),
        len(corpus.questions),
        [oja, keyword, vector, child, *swept.values()],
    )
