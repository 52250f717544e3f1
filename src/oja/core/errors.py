"""One error envelope for everything the API answers with a non-2xx status.

``{"error": {"code": "...", "message": "...", "details": ...}}``. Services raise :class:`OjaError`
subclasses (never ``HTTPException``); the handlers here render them, plus validation errors, unknown
routes, wrong methods, oversized bodies, unavailable backing services and unhandled exceptions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException


class ErrorCode(StrEnum):
    """The base of every module's error codes (``class FilesErrorCode(ErrorCode)``).

    A code is a client contract: one meaning and one HTTP status wherever it is raised, unique across
    modules (tests/core/test_error_codes.py), and listed in the OpenAPI responses of each route that
    can answer it.
    """


class CoreErrorCode(ErrorCode):
    """Codes any route can answer: the generic statuses, the kernel's own failures and the ports'."""

    BAD_REQUEST = "bad_request"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    CONFLICT = "conflict"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    VALIDATION_ERROR = "validation_error"
    INVALID_TEXT = "invalid_text"
    RATE_LIMITED = "rate_limited"
    HTTP_ERROR = "http_error"
    INTERNAL_ERROR = "internal_error"
    UPSTREAM_ERROR = "upstream_error"
    SERVICE_UNAVAILABLE = "service_unavailable"
    NOT_CONFIGURED = "not_configured"
    UNSAFE_URL = "unsafe_url"
    AI_PROVIDER_ERROR = "ai_provider_error"
    AI_INVALID_OUTPUT = "ai_invalid_output"


class OjaError(Exception):
    """A domain error with a stable code and an honest HTTP status.

    Each subclass declares its ``code`` from its module's :class:`ErrorCode` enum and its
    ``status_code``; a raise site picks the subclass, never the code.
    """

    status_code: ClassVar[int] = 400
    code: ClassVar[ErrorCode] = CoreErrorCode.BAD_REQUEST

    def __init__(
        self, message: str, *, details: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers


class BadRequest(OjaError):
    status_code: ClassVar[int] = 400
    code: ClassVar[ErrorCode] = CoreErrorCode.BAD_REQUEST


class Unauthorized(OjaError):
    status_code: ClassVar[int] = 401
    code: ClassVar[ErrorCode] = CoreErrorCode.UNAUTHORIZED


class Forbidden(OjaError):
    status_code: ClassVar[int] = 403
    code: ClassVar[ErrorCode] = CoreErrorCode.FORBIDDEN


class NotFound(OjaError):
    status_code: ClassVar[int] = 404
    code: ClassVar[ErrorCode] = CoreErrorCode.NOT_FOUND


class Conflict(OjaError):
    status_code: ClassVar[int] = 409
    code: ClassVar[ErrorCode] = CoreErrorCode.CONFLICT


class PayloadTooLarge(OjaError):
    status_code: ClassVar[int] = 413
    code: ClassVar[ErrorCode] = CoreErrorCode.PAYLOAD_TOO_LARGE


class UnsupportedMediaType(OjaError):
    status_code: ClassVar[int] = 415
    code: ClassVar[ErrorCode] = CoreErrorCode.UNSUPPORTED_MEDIA_TYPE


class InvalidRequest(OjaError):
    """The request breaks its schema (the validation handler answers it; ``details`` lists why)."""

    status_code: ClassVar[int] = 422
    code: ClassVar[ErrorCode] = CoreErrorCode.VALIDATION_ERROR


class UnstorableText(OjaError):
    """The request holds characters the database cannot store (such as NUL); nothing was kept."""

    status_code: ClassVar[int] = 422
    code: ClassVar[ErrorCode] = CoreErrorCode.INVALID_TEXT


class TooManyRequests(OjaError):
    status_code: ClassVar[int] = 429
    code: ClassVar[ErrorCode] = CoreErrorCode.RATE_LIMITED


class InternalError(OjaError):
    """An unexpected failure of ours; ``details.request_id`` is what to quote when reporting it."""

    status_code: ClassVar[int] = 500
    code: ClassVar[ErrorCode] = CoreErrorCode.INTERNAL_ERROR


class UpstreamError(OjaError):
    status_code: ClassVar[int] = 502
    code: ClassVar[ErrorCode] = CoreErrorCode.UPSTREAM_ERROR


class ServiceUnavailable(OjaError):
    status_code: ClassVar[int] = 503
    code: ClassVar[ErrorCode] = CoreErrorCode.SERVICE_UNAVAILABLE


class NotConfigured(ServiceUnavailable):
    """A feature this server was started without the settings for.

    Every module answers it alike — 503 ``not_configured`` with ``details`` naming the ``feature``
    and the ``settings`` (``OJA_*`` variables) an operator must set — so a client tells "this server
    cannot do that" apart from "try again later" by the code alone. No ``Retry-After``: retrying
    cannot help until the server is reconfigured.
    """

    code: ClassVar[ErrorCode] = CoreErrorCode.NOT_CONFIGURED

    def __init__(self, message: str, *, feature: str, settings: Sequence[str]) -> None:
        super().__init__(message, details={"feature": feature, "settings": list(settings)})
        self.feature = feature
        self.settings = tuple(settings)


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorEnvelope(BaseModel):
    """The shape of every error response."""

    error: ErrorBody


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": jsonable_encoder(details)}}
    return JSONResponse(body, status_code=status, headers=headers)


_HTTP_CODES = {
    400: CoreErrorCode.BAD_REQUEST,
    401: CoreErrorCode.UNAUTHORIZED,
    403: CoreErrorCode.FORBIDDEN,
    404: CoreErrorCode.NOT_FOUND,
    405: CoreErrorCode.METHOD_NOT_ALLOWED,
    406: CoreErrorCode.NOT_ACCEPTABLE,
    409: CoreErrorCode.CONFLICT,
    413: CoreErrorCode.PAYLOAD_TOO_LARGE,
    415: CoreErrorCode.UNSUPPORTED_MEDIA_TYPE,
    429: CoreErrorCode.RATE_LIMITED,
}


async def _oja_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OjaError)
    return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg"), "type": err.get("type")}
        for err in exc.errors()
    ]
    return error_response(
        InvalidRequest.status_code, InvalidRequest.code, "The request is not valid.", details
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, CoreErrorCode.HTTP_ERROR)
    message = exc.detail if isinstance(exc.detail, str) else "HTTP error"
    if exc.status_code == 404 and message == "Not Found":
        message = "No such resource."
    if exc.status_code == 405:
        message = f"Method {request.method} is not allowed here."
    return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))


UNSTORABLE_TEXT_SQLSTATES = frozenset({"22021", "22P05"})
"""PostgreSQL's character_not_in_repertoire (a NUL byte in text) and untranslatable_character (a
``\u0000`` escape inside a JSONB value or key)."""


def is_unstorable_text(exc: BaseException) -> bool:
    """True when the database refused a value's characters (see :data:`UNSTORABLE_TEXT_SQLSTATES`):
    the client's input, not our fault, so a 422 rather than a 500."""
    seen: BaseException | None = exc
    while seen is not None:
        if getattr(seen, "sqlstate", None) in UNSTORABLE_TEXT_SQLSTATES:
            return True
        seen = seen.__cause__ if seen.__cause__ is not seen else None
    return False


def is_unavailable(exc: BaseException) -> bool:
    """True for failures of a backing service (database, Redis, broker) rather than of our code."""
    import redis.exceptions

    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return True
    if isinstance(exc, PoolTimeoutError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, OperationalError):
        return True  # SQLite "database is locked", PostgreSQL gone
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    cause = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and is_unavailable(cause)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(OjaError, _oja_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


def errors(*raised: type[OjaError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for a route that can answer the given errors.

    One entry per status: the envelope's schema, a description naming every code, and an example
    per code (``content.application/json.examples``), so a client's switch over ``error.code`` can
    be written from the document. Pass every class the route can raise, its dependencies' too.
    """
    by_status: dict[int, dict[str, type[OjaError]]] = {}
    for error in raised:
        by_status.setdefault(error.status_code, {}).setdefault(str(error.code), error)
    responses: dict[int | str, dict[str, Any]] = {}
    for status in sorted(by_status):
        codes = by_status[status]
        listed = ", ".join(f"`{code}`" for code in codes)
        responses[status] = {
            "model": ErrorEnvelope,
            "description": f"{HTTPStatus(status).phrase}: {listed}",
            "content": {
                "application/json": {
                    "examples": {code: _example(error) for code, error in codes.items()}
                }
            },
        }
    return responses


def _example(error: type[OjaError]) -> dict[str, Any]:
    """The class's name in words as the summary and message; its docstring, if any, describes it."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", error.__name__.lstrip("_")).lower()
    summary = words[:1].upper() + words[1:]
    example: dict[str, Any] = {
        "summary": summary,
        "value": {"error": {"code": str(error.code), "message": f"{summary}.", "details": None}},
    }
    doc = error.__dict__.get("__doc__")
    if doc:
        # The first paragraph, reST literals made Markdown ones (OpenAPI descriptions are CommonMark).
        paragraph = " ".join(doc.strip().split("\n\n")[0].split())
        example["description"] = paragraph.replace("``", "`")
    return example
