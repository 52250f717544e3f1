"""Documents settings (``OJA_`` prefix): a section of the runtime's :class:`~oja.core.config.Settings`."""

from __future__ import annotations

from pydantic import Field

from oja.core.config import Settings, SettingsSection
from oja.core.dependencies import RuntimeDep


class DocumentsSettings(SettingsSection):
    max_document_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    """Largest file `POST /documents/upload` accepts (OJA_MAX_DOCUMENT_BYTES); enforced while reading (413)."""
    analyze_wait_seconds: float = Field(default=10.0, ge=0)
    """How long `POST /documents/{id}/analyze` waits for its job before answering 202 with a status link."""
    analysis_chunk_chars: int = Field(default=12_000, ge=500)
    """Texts longer than this are analysed map-reduce: each chunk summarised, then the summaries combined."""
    analysis_max_chunks: int = Field(default=12, ge=1)
    """Most chunks summarised for one document; longer texts get proportionally larger chunks."""
    analysis_concurrency: int = Field(default=4, ge=1)
    """Chunk summaries requested from the model at the same time."""
    document_job_timeout: float = Field(default=300.0, gt=0)
    """Seconds one extraction or processing job may run (read when the worker starts)."""


async def get_documents_settings(runtime: RuntimeDep) -> DocumentsSettings:
    """The documents section of the app's settings; jobs read ``ctx.runtime.settings`` instead."""
    return runtime.settings.section(DocumentsSettings)


MULTIPART_OVERHEAD_BYTES = 64 * 1024
"""Room for the multipart framing around the file in the whole body's limit."""


def upload_body_limit(settings: Settings) -> int:
    """The whole `POST /documents/upload` body's limit, for the request middleware's early 413."""
    return settings.section(DocumentsSettings).max_document_bytes + MULTIPART_OVERHEAD_BYTES
