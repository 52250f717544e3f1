"""The port through which a higher module lists a document's indexed chunks.

``documents`` may not import ``rag`` (layers point down), yet ``GET /documents/{id}`` must show the
chunks retrieval made. The retrieval module registers a lister here when it is imported; until then
(or in a deployment without it) a document has no chunks to show.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

ChunkLister = Callable[[AsyncSession, uuid.UUID], Awaitable[list[dict[str, Any]]]]
_lister: ChunkLister | None = None


def provide(lister: ChunkLister) -> None:
    global _lister
    _lister = lister


async def of_document(session: AsyncSession, document_id: uuid.UUID) -> list[dict[str, Any]]:
    return await _lister(session, document_id) if _lister is not None else []
