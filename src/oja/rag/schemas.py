"""Request and response bodies of ``POST /query``: the answer, the chunks it was drawn from and
their similarity scores."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field


class QueryIn(BaseModel):
    question: str = Field(min_length=1, max_length=2000)
    # strict: JSON true/false are not numbers (lax mode would read them as 1 and 0).
    top_k: int = Field(default=5, ge=1, le=20, strict=True, description="Chunks to answer from.")
    document_ids: list[uuid.UUID] | None = Field(
        default=None, max_length=100, description="Search only these of your documents."
    )
    min_score: float | None = Field(
        default=None,
        ge=-1,
        le=1,
        strict=True,
        description=(
            "Cosine similarity a chunk found only by the vector search needs to be used"
            " (default OJA_QUERY_MIN_SCORE, 0.25); chunks the keyword search found are kept."
        ),
    )


class ChunkOut(BaseModel):
    document_id: uuid.UUID
    filename: str
    chunk_index: int
    text: str
    score: float = Field(description="Cosine similarity between the question and the chunk.")


class CitationOut(BaseModel):
    number: int = Field(description="The chunk's position in `chunks`, from 1.")
    document_id: uuid.UUID
    chunk_index: int
    quote: str | None = Field(default=None, description="Verbatim text of the chunk, checked.")


class QueryOut(BaseModel):
    answer: str
    chunks: list[ChunkOut]
    citations: list[CitationOut]
    provider: str
    model: str


class DocumentChunkOut(BaseModel):
    chunk_index: int
    text: str
    start_char: int
    end_char: int
    token_count: int
    content_hash: str
    embedding_model: str
