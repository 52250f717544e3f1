"""Background work of the retrieval module, and the documents events that start it.

``documents.text_extracted`` → ``rag.index_document`` (deduplicated per document, text and
embedding model, so extracting the same text twice indexes it once). ``documents.deleted`` removes
the chunks in the deleting transaction (table and keyword index; the vector cache follows the
version log) and, with a Chroma server, ``rag.purge_document`` removes them there after commit.
``rag.reindex_stale`` re-indexes documents whose chunks were embedded by another model, or have no
child vectors (indexed before ``rag_chunk_vector`` existed; until then search scores such a chunk
by its whole-chunk vector).

The handlers, and the chunk lister behind ``GET /documents/{id}``'s ``chunks``, are registered
when this module is imported: the composition roots (API and worker) import it through
:data:`oja.job_modules.JOB_MODULES`.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core import events
from oja.core.config import Settings
from oja.core.db import current_session
from oja.core.ids import uuid7
from oja.core.jobs import EnqueueOptions, Job, JobContext, JobStatus, job
from oja.core.runtime import current_runtime
from oja.documents import chunks as documents_chunks
from oja.rag.config import RagSettings

# The retrieval service (and numpy, the embedding model) is imported by the functions that run it:
# a worker process that never indexes does not load it (tests/test_process_imports.py).

STALE_BATCH = 100
CHILDREN = "children-128-96"  # the service's CHILD_WINDOW and CHILD_STRIDE (asserted in a test)
"""Part of the indexing dedupe key, so a document indexed before child vectors existed is indexed
again for the same text and model."""


@job(
    "rag.index_document",
    # The job kind's time limit is fixed when the worker imports this module: read it then.
    timeout=RagSettings().index_job_timeout,
    max_attempts=5,
    subject=("document", "document_id"),
)
async def index_document(ctx: JobContext, *, document_id: uuid.UUID) -> dict[str, Any]:
    from oja.rag import service

    indexed = await service.index_document(ctx.session, ctx.runtime, document_id)
    if indexed is None:
        return {"skipped": True}
    return {"chunks": indexed.chunks, "embedded": indexed.embedded}


@job("rag.purge_document", max_attempts=10, subject=("document", "document_id"))
async def purge_document(ctx: JobContext, *, document_id: uuid.UUID) -> None:
    from oja.rag import service

    await service.purge_remote(ctx.session, ctx.runtime, document_id)


@job("rag.reindex_stale", periodic=600.0)
async def reindex_stale(ctx: JobContext) -> dict[str, Any]:
    """Documents with chunks of another embedding model, or chunks without child vectors, get
    re-indexed (a batch of each per run)."""
    from oja.rag import repository
    from oja.rag.embedding import embedding_name
    from oja.rag.models import RagChunk

    model = embedding_name(ctx.runtime.settings)
    stale = list(
        await ctx.session.scalars(
            select(RagChunk.document_id)
            .where(RagChunk.embedding_model != model)
            .distinct()
            .limit(STALE_BATCH)
        )
    )
    childless = await repository.documents_without_children(ctx.session, STALE_BATCH)
    for document_id in dict.fromkeys([*stale, *childless]):
        await request_indexing(document_id, ctx.runtime.settings)
    await repository.prune_changes(ctx.session)
    return {"stale": len(stale), "childless": len(childless)}


async def request_indexing(document_id: uuid.UUID, settings: Settings) -> Job | None:
    """Enqueue indexing in the current unit of work unless this text, with this model, already has
    a job that is queued, running or done."""
    from oja.documents.models import Document
    from oja.rag.chunking import content_hash
    from oja.rag.embedding import embedding_name

    session = current_session()
    document = await session.get(Document, document_id)  # the emitter's copy, with its new text
    if document is None or document.text is None:
        return None
    fingerprint = hashlib.sha256(
        f"{content_hash(document.text)}:{embedding_name(settings)}:{CHILDREN}".encode()
    ).hexdigest()[:32]
    key = f"rag.index:{document_id}:{fingerprint}"
    existing = await session.scalar(select(Job.status).where(Job.dedupe_key == key))
    if existing is not None and existing != JobStatus.failed:
        return None
    if existing is not None:  # a failed run must not block the next request for the same text
        key = f"{key}:{uuid7().hex}"
    document.indexed_at = None
    return index_document.enqueue_with(
        session, EnqueueOptions(dedupe_key=key), document_id=document_id
    )


@events.on("documents.text_extracted")
async def on_text_extracted(*, document_id: uuid.UUID, **_: Any) -> None:
    # Events carry no runtime: the process's own (the API's or the worker's) holds the settings.
    await request_indexing(document_id, current_runtime().settings)


@events.on("documents.deleted")
async def on_document_deleted(*, document_id: uuid.UUID, **_: Any) -> None:
    from oja.rag import service

    session = current_session()
    await service.forget_document(session, document_id)
    if current_runtime().settings.section(RagSettings).chroma_url:
        purge_document.enqueue_with(
            session, EnqueueOptions(dedupe_key=f"rag.purge:{document_id}"), document_id=document_id
        )


async def list_chunks(session: AsyncSession, document_id: uuid.UUID) -> list[dict[str, Any]]:
    """What ``GET /documents/{id}`` shows as ``chunks`` (the documents module's chunk port)."""
    from oja.rag import repository
    from oja.rag.schemas import DocumentChunkOut

    return [
        DocumentChunkOut.model_validate(row, from_attributes=True).model_dump()
        for row in await repository.chunks_of(session, document_id)
    ]


documents_chunks.provide(list_chunks)
