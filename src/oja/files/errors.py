"""Domain errors of the files module; the kernel's handler renders them as the envelope."""

from __future__ import annotations

from oja.core.errors import BadRequest, Conflict, NotFound, OjaError, PayloadTooLarge
from oja.core.errors import UnsupportedMediaType as _UnsupportedMediaType


class FileNotFound(NotFound):
    code = "file_not_found"


class NotProcessed(Conflict):
    code = "not_processed"


class NotRetryable(Conflict):
    code = "not_retryable"


class UploadTooLarge(PayloadTooLarge):
    code = "payload_too_large"


class InvalidUpload(OjaError):
    """The multipart body lacks the file part, or a field breaks its limits."""

    status_code = 422
    code = "validation_error"


class EmptyFile(InvalidUpload):
    code = "empty_file"


class MalformedUpload(BadRequest):
    code = "malformed_multipart"


class NotMultipart(_UnsupportedMediaType):
    code = "unsupported_media_type"
