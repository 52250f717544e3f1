"""Domain errors of the documents module; the kernel's handler renders them as the envelope."""

from __future__ import annotations

from oja.core.errors import Conflict, NotFound, OjaError, UnsupportedMediaType


class DocumentNotFound(NotFound):
    code = "document_not_found"


class UnsupportedDocumentType(UnsupportedMediaType):
    code = "unsupported_media_type"


class NotCompleted(Conflict):
    code = "not_completed"


class ProcessingFailed(OjaError):
    """The document could not be processed: the file's fault (422) or the provider's (502)."""

    status_code = 422
    code = "processing_failed"


class AnalysisUpstreamFailed(ProcessingFailed):
    status_code = 502
