"""Domain errors of the documents module; the kernel's handler renders them as the envelope."""

from __future__ import annotations

from oja.core.errors import Conflict, ErrorCode, NotFound, OjaError, UnsupportedMediaType


class DocumentsErrorCode(ErrorCode):
    DOCUMENT_NOT_FOUND = "document_not_found"
    NOT_COMPLETED = "not_completed"
    PROCESSING_FAILED = "processing_failed"
    ANALYSIS_UPSTREAM_FAILED = "analysis_upstream_failed"


class DocumentNotFound(NotFound):
    code = DocumentsErrorCode.DOCUMENT_NOT_FOUND


class UnsupportedDocumentType(UnsupportedMediaType):
    """Not a PDF or DOCX (the generic ``unsupported_media_type``)."""


class NotCompleted(Conflict):
    code = DocumentsErrorCode.NOT_COMPLETED


class ProcessingFailed(OjaError):
    """The document could not be processed because of the file (``details.reason`` says why)."""

    status_code = 422
    code = DocumentsErrorCode.PROCESSING_FAILED


class AnalysisUpstreamFailed(ProcessingFailed):
    """The document could not be analysed because the AI provider failed or is not configured.

    Its own code: ``processing_failed`` is the file's fault (422), this one the provider's (502), and
    one code has one status.
    """

    status_code = 502
    code = DocumentsErrorCode.ANALYSIS_UPSTREAM_FAILED
