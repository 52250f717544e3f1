"""Retrieval quality gate: 32 synthetic documents on distinct topics (``documents.md``) and 64
paraphrased questions (``questions.tsv``), each naming its document and a phrase the right chunk
contains. :func:`evaluate` indexes the corpus through the real pipeline (chunking, MiniLM or the
configured embedder, the configured vector index, keyword index, fusion, ``min_score``) and reports
hit@1, hit@5 and MRR@10. ``make eval`` prints them; ``tests/rag/test_eval.py`` fails below hit@5 0.90.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from oja.core.db import unit_of_work
from oja.core.runtime import Runtime
from oja.documents.models import Document, DocumentStatus
from oja.rag import service

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Question:
    document: str
    phrase: str
    text: str


@dataclass(frozen=True, slots=True)
class Report:
    questions: int
    hit_at_1: float
    hit_at_5: float
    mrr: float
    misses: list[str]


def load_documents() -> dict[str, str]:
    documents: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in (HERE / "documents.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = documents.setdefault(line[3:].strip(), [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines).strip() + "\n" for name, lines in documents.items()}


def load_questions() -> list[Question]:
    rows = (HERE / "questions.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return [Question(*row.split("\t")) for row in rows if row.strip()]


async def add_corpus(runtime: Runtime, owner_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """Store and index every evaluation document for ``owner_id``; document id → corpus name."""
    names: dict[uuid.UUID, str] = {}
    async with unit_of_work(runtime.database) as session:
        for name, text in load_documents().items():
            document_id = uuid.uuid4()
            names[document_id] = name
            session.add(
                Document(
                    id=document_id,
                    owner_id=owner_id,
                    filename=f"{name}.txt",
                    storage_key=f"eval/{document_id}",
                    kind="txt",
                    content_type="text/plain",
                    size=len(text.encode()),
                    sha256="0" * 64,
                    status=DocumentStatus.UPLOADED,
                    text=text,
                )
            )
    for document_id in names:
        async with unit_of_work(runtime.database) as session:
            await service.index_document(session, runtime, document_id)
    return names


async def evaluate(runtime: Runtime, owner_id: uuid.UUID, names: dict[uuid.UUID, str]) -> Report:
    hits_1 = hits_5 = 0
    reciprocal = 0.0
    misses: list[str] = []
    questions = load_questions()
    for question in questions:
        async with unit_of_work(runtime.database) as session:
            contexts = await service.retrieve(
                session, runtime, owner_id=owner_id, question=question.text, top_k=10
            )
        rank = next(
            (
                position
                for position, c in enumerate(contexts, start=1)
                if names.get(c.document_id) == question.document and question.phrase in c.text
            ),
            None,
        )
        if rank == 1:
            hits_1 += 1
        if rank is not None and rank <= 5:
            hits_5 += 1
        else:
            misses.append(question.text)
        reciprocal += 1.0 / rank if rank else 0.0
    total = len(questions)
    return Report(total, hits_1 / total, hits_5 / total, reciprocal / total, misses)
