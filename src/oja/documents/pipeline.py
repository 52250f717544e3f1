"""The stages a document goes through, shared by the jobs: read the original, extract its text."""

from __future__ import annotations

from oja.core.clock import utcnow
from oja.core.extract import Extracted, Kind, extract_async
from oja.core.storage import Storage
from oja.documents.models import Document


async def read_original(storage: Storage, key: str) -> bytes:
    """The stored file, whole: documents are small (OJA_MAX_DOCUMENT_BYTES) and PDFium wants bytes."""
    return b"".join([chunk async for chunk in storage.open(key)])


async def extract(storage: Storage, document: Document) -> Extracted:
    data = await read_original(storage, document.storage_key)
    kind: Kind = document.kind  # type: ignore[assignment]  # constrained by a CHECK
    return await extract_async(data, kind)


def extracted_values(extracted: Extracted) -> dict[str, object]:
    return {"text": extracted.text, "pages": extracted.pages, "extracted_at": utcnow()}


def apply_extracted(document: Document, extracted: Extracted) -> None:
    document.text = extracted.text
    document.pages = extracted.pages
    document.extracted_at = utcnow()
