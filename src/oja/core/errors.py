"""One error envelope for everything the API answers with a non-2xx status.

``{"error": {"code": "...", "message": "...", "details": ...}}``. Services raise :class:`OjaError`
subclasses (never ``HTTPException``); the handlers here render them, plus validation errors, unknown
routes, wrong methods, oversized bodies, unavailable backing services and unhandled exceptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
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


class OjaError(Exception):
    """A domain error with a stable code and an honest HTTP status."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers
        if code is not None:
            self.code = code  # type: ignore[misc]


class BadRequest(OjaError):
    status_code = 400
    code = "bad_request"


class Unauthorized(OjaError):
    status_code = 401
    code = "unauthorized"


class Forbidden(OjaError):
    status_code = 403
    code = "forbidden"


class NotFound(OjaError):
    status_code = 404
    code = "not_found"


class Conflict(OjaError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(OjaError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(OjaError):
    status_code = 415
    code = "unsupported_media_type"


class TooManyRequests(OjaError):
    status_code = 429
    code = "rate_limited"


class UpstreamError(OjaError):
    status_code = 502
    code = "upstream_error"


class ServiceUnavailable(OjaError):
    status_code = 503
    code = "service_unavailable"


class NotConfigured(ServiceUnavailable):
    """A feature this server was started without the settings for.

    Every module answers it alike — 503 ``not_configured`` with ``details`` naming the ``feature``
    and the ``settings`` (``OJA_*`` variables) an operator must set — so a client tells "this server
    cannot do that" apart from "try again later" by the code alone. No ``Retry-After``: retrying
    cannot help until the server is reconfigured.
    """

    code = "not_configured"

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
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
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
    return error_response(422, "validation_error", "The request is not valid.", details)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else "HTTP error"
    if exc.status_code == 404 and message == "Not Found":
        message = "No such resource."
    if exc.status_code == 405:
        message = f"Method {request.method} is not allowed here."
    return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))


def is_unstorable_text(exc: BaseException) -> bool:
    """True when the database refused a value's characters (PostgreSQL SQLSTATE 22021, e.g. a NUL
    in a text or JSON field): the client's input, not our fault, so a 422 rather than a 500."""
    seen: BaseException | None = exc
    while seen is not None:
        if getattr(seen, "sqlstate", None) == "22021":
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


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting the envelope for the given statuses."""
    return {status: {"model": ErrorEnvelope} for status in statuses}
