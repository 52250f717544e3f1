"""Rules of the retrieval module: index a document's text, forget a document, answer a question.

Services never commit: the job's or the request's unit of work does.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.ai import AISettings, ChatModel, Usage, chat_provider, open_chat_model
from oja.core.clock import utcnow
from oja.core.runtime import Runtime
from oja.documents import repository as documents_repository
from oja.rag import answering, blas, minilm, repository
from oja.rag.chunking import Chunk, chunk_text
from oja.rag.config import RagSettings
from oja.rag.embedding import ChunkEmbedder, Matrix, open_chunk_embedder
from oja.rag.models import chunk_id, rowkey_of
from oja.rag.vector_index import Hit, IndexedChunk, NumpyIndex, VectorIndex

log = structlog.get_logger("oja.rag")
VECTOR_WEIGHT = 2.0
"""A candidate's fused score is its keyword relevance as a share of the best keyword match's, plus
this times its (best child's) cosine similarity. Chosen on both evaluation corpora with child
vectors (README, Retrieval): on SQuAD hit@1 is 0.868 at 0.5, 0.874 at 1.0, 0.876-0.880 from 1.5 to
2.5 and 0.882 at 3.0, the sweep's edge; the synthetic set gives 1.0 at every weight. 2.0 is the
middle of the plateau rather than its edge."""
CHILD_WINDOW, CHILD_STRIDE = 128, 96
"""Child windows of a chunk: 128 MiniLM word-pieces, a new one every 96 (a quarter overlapping).
Measured against whole-chunk vectors and 64-token windows (README, Retrieval): 128 gives most of
the gain at half the vectors of 64."""
_chroma: dict[tuple[str, str, str], VectorIndex] = {}


def open_index(runtime: Runtime, model: str) -> VectorIndex:
    """Chroma when ``OJA_CHROMA_URL`` is set, else exact NumPy search over ``rag_chunk``."""
    settings = runtime.settings.section(RagSettings)
    if settings.chroma_url:
        key = (settings.chroma_url, settings.chroma_collection_prefix, model)
        if key not in _chroma:
            from oja.rag.chroma_index import ChromaIndex

            _chroma[key] = ChromaIndex(
                settings.chroma_url, model, settings.chroma_collection_prefix
            )
        return _chroma[key]
    return NumpyIndex(runtime.database.url, model)


def chunk_document(text: str, settings: RagSettings) -> list[Chunk]:
    return chunk_text(
        text,
        count_tokens=minilm.load().token_count,
        min_tokens=settings.chunk_min_tokens,
        max_tokens=settings.chunk_max_tokens,
        overlap=settings.chunk_overlap,
    )


def child_windows(texts: Sequence[str]) -> list[list[str]]:
    """Each text as overlapping windows of :data:`CHILD_WINDOW` word-pieces (itself when short)."""
    model = minilm.load()
    return [model.windows(t, window=CHILD_WINDOW, stride=CHILD_STRIDE) for t in texts]


async def embed_with_children(
    embedder: ChunkEmbedder, texts: Sequence[str]
) -> tuple[Matrix, list[Matrix]]:
    """Each text's vector and its child windows' vectors, in one embedding call. A text that is
    a single window is its own child: its vector is not computed twice."""
    windows = await asyncio.to_thread(child_windows, texts)
    split = [ws for ws in windows if len(ws) > 1]
    vectors: Matrix = await embedder.embed([*texts, *(w for ws in split for w in ws)])
    children: list[Matrix] = []
    row = len(texts)
    for i, ws in enumerate(windows):
        if len(ws) > 1:
            children.append(vectors[row : row + len(ws)])
            row += len(ws)
        else:
            children.append(vectors[i : i + 1])
    return vectors[: len(texts)], children


@dataclass(frozen=True, slots=True)
class Indexed:
    chunks: int
    embedded: int
    """0 when the stored chunks already matched the text and model (nothing re-embedded)."""


async def index_document(
    session: AsyncSession, runtime: Runtime, document_id: uuid.UUID
) -> Indexed | None:
    """Make the document's chunks, and their child vectors, exactly those of its current text, in
    every index; None when the document is gone or has no text yet. Re-running it changes nothing;
    a document whose chunks lack child vectors (indexed before they existed) is re-embedded."""
    document = await documents_repository.by_id(session, document_id)
    if document is None or document.text is None:
        return None
    settings = runtime.settings.section(RagSettings)
    chunks = await asyncio.to_thread(chunk_document, document.text, settings)
    async with open_chunk_embedder(runtime.settings) as embedder:
        existing = await repository.chunks_of(session, document_id)
        ids = [chunk_id(document_id, c.index, c.content_hash) for c in chunks]
        counts = await repository.child_counts(session, document_id)
        if (
            [c.id for c in existing] == ids
            and all(c.embedding_model == embedder.name for c in existing)
            and all(counts.get(i, 0) > 0 for i in ids)
        ):
            embedded = 0
        else:
            vectors, children = await embed_with_children(embedder, [c.text for c in chunks])
            rows = [
                {
                    "id": ids[c.index],
                    "rowkey": rowkey_of(ids[c.index]),
                    "document_id": document_id,
                    "owner_id": document.owner_id,
                    "chunk_index": c.index,
                    "text": c.text,
                    "start_char": c.start,
                    "end_char": c.end,
                    "token_count": c.token_count,
                    "content_hash": c.content_hash,
                    "embedding": np.asarray(vectors[c.index], dtype="<f4").tobytes(),
                    "embedding_model": embedder.name,
                    "embedding_dim": int(vectors.shape[1]),
                    "created_at": utcnow(),
                }
                for c in chunks
            ]
            child_rows = [
                {
                    "chunk_id": ids[c.index],
                    "window_index": w,
                    "embedding": np.asarray(vector, dtype="<f4").tobytes(),
                }
                for c in chunks
                for w, vector in enumerate(children[c.index])
            ]
            await repository.replace_document(session, document_id, rows, child_rows)
            await open_index(runtime, embedder.name).upsert(
                session,
                [
                    IndexedChunk(
                        ids[c.index],
                        document_id,
                        document.owner_id,
                        c.index,
                        vectors[c.index],
                        children[c.index],
                    )
                    for c in chunks
                ],
            )
            embedded = len(chunks)
    document.chunk_count = len(chunks)
    document.indexed_at = utcnow()
    log.info(
        "rag.document_indexed", document_id=str(document_id), chunks=len(chunks), embedded=embedded
    )
    return Indexed(len(chunks), embedded)


async def forget_document(session: AsyncSession, document_id: uuid.UUID) -> int:
    """Remove the document's chunks from the table and the keyword index (this transaction)."""
    return await repository.delete_document(session, document_id)


async def purge_remote(session: AsyncSession, runtime: Runtime, document_id: uuid.UUID) -> None:
    """Remove the document from the remote vector index, if one is configured, for every model."""
    if not runtime.settings.section(RagSettings).chroma_url:
        return
    from oja.rag.chroma_index import ChromaIndex
    from oja.rag.embedding import embedding_name

    index = open_index(runtime, embedding_name(runtime.settings))
    assert isinstance(index, ChromaIndex)
    await index.delete_everywhere(document_id)


def fuse(
    keyword_hits: Sequence[Hit],
    cosines: Mapping[uuid.UUID, float],
    vector_weight: float = VECTOR_WEIGHT,
) -> list[uuid.UUID]:
    """The candidates of ``cosines``, best first by ``relevance / best relevance + vector_weight
    * cosine``; a candidate the keyword index did not return has keyword share 0.

    Scores, not ranks, are fused: a rank throws away how far apart two candidates are, and with
    reciprocal rank fusion the weaker index (MiniLM over 300-600-token chunks, on real questions)
    pulled the stronger one's first place down (hit@1 0.74 against BM25's 0.85 on SQuAD). Dividing
    by the best match makes SQLite's BM25 and PostgreSQL's ``ts_rank_cd`` comparable."""
    best = max((score for _, score in keyword_hits), default=0.0)
    shares = {item: score / best for item, score in keyword_hits} if best > 0 else {}
    fused = {
        item: shares.get(item, 0.0) + vector_weight * cosine for item, cosine in cosines.items()
    }
    return sorted(fused, key=lambda item: -fused[item])


async def retrieve(
    session: AsyncSession,
    runtime: Runtime,
    *,
    owner_id: uuid.UUID,
    question: str,
    top_k: int,
    document_ids: Sequence[uuid.UUID] | None = None,
    min_score: float | None = None,
    vector_weight: float = VECTOR_WEIGHT,
) -> list[answering.Context]:
    """The owner's ``top_k`` chunks for ``question``, each scored by cosine similarity: its best
    child window's (small-chunk/parent; the chunk's own vector when it has no children).

    Each index applies its own bar before fusion: a vector candidate needs a cosine of at least
    ``min_score``; a keyword candidate needs to match the question's words, and is kept whatever
    its cosine (a chunk BM25 ranks first can score 0.2 with MiniLM: dropping it after fusion lost
    57 of 71 misses on SQuAD). The survivors are ranked by :func:`fuse` (``vector_weight`` other
    than :data:`VECTOR_WEIGHT` is for the evaluation's weight sweep)."""
    settings = runtime.settings.section(RagSettings)
    threshold = settings.query_min_score if min_score is None else min_score
    with blas.one_thread():
        async with open_chunk_embedder(runtime.settings) as embedder:
            question_vector = (await embedder.embed([question]))[0]
        candidates = max(settings.query_candidates, top_k)
        index = open_index(runtime, embedder.name)
        vector_hits = await index.search(
            session, question_vector, owner_id, candidates, document_ids
        )
        keyword_hits = await repository.keyword_search(
            session,
            question,
            owner_id=owner_id,
            model=embedder.name,
            limit=candidates,
            document_ids=document_ids,
        )
        wanted = [item for item, score in vector_hits if score >= threshold]
        wanted += [item for item, _ in keyword_hits]
        rows = await repository.hits_by_id(session, list(dict.fromkeys(wanted)), owner_id)
        cosines = await index.cosines(session, question_vector, owner_id, list(rows))
        ranked = fuse(keyword_hits, cosines, vector_weight)
    contexts: list[answering.Context] = []
    for item in ranked[:top_k]:
        row = rows[item]
        contexts.append(
            answering.Context(
                len(contexts) + 1,
                row.document_id,
                row.filename,
                row.chunk_index,
                row.text,
                cosines[item],
            )
        )
    return contexts


@dataclass(frozen=True, slots=True)
class QueryResult:
    answer: answering.Answer
    contexts: list[answering.Context]


async def ask(
    session: AsyncSession,
    runtime: Runtime,
    *,
    owner_id: uuid.UUID,
    question: str,
    top_k: int,
    document_ids: Sequence[uuid.UUID] | None = None,
    min_score: float | None = None,
    chat: ChatModel | None = None,
) -> QueryResult:
    contexts = await retrieve(
        session,
        runtime,
        owner_id=owner_id,
        question=question,
        top_k=top_k,
        document_ids=document_ids,
        min_score=min_score,
    )
    ai = runtime.settings.section(AISettings)
    if not contexts:
        provider = chat.provider if chat else chat_provider(ai)
        model = chat.model if chat else _model_name(ai, provider)
        answer = answering.Answer(answering.NOT_FOUND, [], provider, model, Usage())
    elif chat is not None:
        answer = await answering.generate(chat, question, contexts)
    elif chat_provider(ai) == "local":
        answer = answering.extractive(question, contexts)
    else:
        async with open_chat_model(ai) as model_port:
            answer = await answering.generate(model_port, question, contexts)
    log.info(
        "rag.query_answered",
        chunks=len(contexts),
        citations=len(answer.citations),
        provider=answer.provider,
        found=answer.text != answering.NOT_FOUND,
    )
    return QueryResult(answer, contexts)


def _model_name(ai: AISettings, provider: str) -> str:
    if provider == "openrouter":
        return ai.llm_model
    if provider == "gemini":
        return ai.gemini_model
    return answering.EXTRACTIVE_MODEL
