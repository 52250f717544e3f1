"""Domain errors of the files module; the kernel's handler renders them as the envelope."""

from __future__ import annotations

from oja.core.errors import (
    BadRequest,
    Conflict,
    ErrorCode,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
)
from oja.core.errors import UnsupportedMediaType as _UnsupportedMediaType


class FilesErrorCode(ErrorCode):
    FILE_NOT_FOUND = "file_not_found"
    NOT_PROCESSED = "not_processed"
    NOT_RETRYABLE = "not_retryable"
    EMPTY_FILE = "empty_file"
    MALFORMED_MULTIPART = "malformed_multipart"


class FileNotFound(NotFound):
    code = FilesErrorCode.FILE_NOT_FOUND


class NotProcessed(Conflict):
    code = FilesErrorCode.NOT_PROCESSED


class NotRetryable(Conflict):
    code = FilesErrorCode.NOT_RETRYABLE


class UploadTooLarge(PayloadTooLarge):
    """The file is larger than the upload limit (the generic ``payload_too_large``)."""


class InvalidUpload(InvalidRequest):
    """The multipart body lacks the file part, or a field breaks its limits."""


class EmptyFile(InvalidUpload):
    code = FilesErrorCode.EMPTY_FILE


class MalformedUpload(BadRequest):
    code = FilesErrorCode.MALFORMED_MULTIPART


class NotMultipart(_UnsupportedMediaType):
    """The body is not ``multipart/form-data`` (the generic ``unsupported_media_type``)."""
