"""``POST /query``: answer a question from the caller's own documents, with checked citations.

Needs a user token or an API key with the ``query`` scope. Only the caller's chunks are searched.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from oja.core.ai.errors import AINotConfigured, AIProviderError
from oja.core.dependencies import RuntimeDep, SessionDep
from oja.core.errors import InvalidRequest, errors
from oja.identity.dependencies import SCOPED_ERRORS, Principal, RequireScopes
from oja.rag import service
from oja.rag.schemas import ChunkOut, CitationOut, QueryIn, QueryOut

router = APIRouter(tags=["retrieval"])
Querier = Annotated[Principal, RequireScopes("query")]


@router.post(
    "/query",
    response_model=QueryOut,
    responses=errors(*SCOPED_ERRORS, InvalidRequest, AIProviderError, AINotConfigured),
)
async def query(body: QueryIn, principal: Querier, db: SessionDep, runtime: RuntimeDep) -> QueryOut:
    """Embed the question, retrieve (vector + keyword, fused), answer from the numbered chunks."""
    result = await service.ask(
        db,
        runtime,
        owner_id=principal.user_id,
        question=body.question,
        top_k=body.top_k,
        document_ids=body.document_ids,
        min_score=body.min_score,
    )
    answer = result.answer
    return QueryOut(
        answer=answer.text,
        chunks=[
            ChunkOut(
                document_id=c.document_id,
                filename=c.filename,
                chunk_index=c.chunk_index,
                text=c.text,
                score=round(c.score, 4),
            )
            for c in result.contexts
        ],
        citations=[
            CitationOut(
                number=c.number, document_id=c.document_id, chunk_index=c.chunk_index, quote=c.quote
            )
            for c in answer.citations
        ],
        provider=answer.provider,
        model=answer.model,
    )
