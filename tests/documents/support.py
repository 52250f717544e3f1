"""Steps the documents tests share: reading a document's status and the exact body it should be."""

from __future__ import annotations

from typing import Any

import httpx

DONE = "Processing completed."


async def status_of(
    client: httpx.AsyncClient, headers: dict[str, str], document_id: str
) -> dict[str, Any]:
    return dict((await client.get(f"/documents/{document_id}/status", headers=headers)).json())


def status_body(
    document_id: str, status: str, *, progress: int, stage: str, message: str, indexed: bool
) -> dict[str, Any]:
    """The whole ``GET /documents/{id}/status`` body, to compare exactly."""
    return {
        "document_id": document_id,
        "status": status,
        "progress": progress,
        "stage": stage,
        "message": message,
        "indexed": indexed,
    }
