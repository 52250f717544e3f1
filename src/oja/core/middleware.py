"""Pure ASGI middleware: request id, access log, metrics, body-size limit, last-resort errors.

Written as raw ASGI rather than ``BaseHTTPMiddleware`` so streaming uploads pass through untouched and
the per-request overhead stays small.
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

import structlog
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oja.core.errors import (
    InternalError,
    PayloadTooLarge,
    ServiceUnavailable,
    UnstorableText,
    error_response,
    is_unavailable,
    is_unstorable_text,
)
from oja.core.logging import log_access
from oja.core.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = structlog.get_logger("oja.http")
access_logger = logging.getLogger("oja.http")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class BodyTooLarge(Exception):
    pass


def new_request_id() -> str:
    """What ``uuid.uuid4().hex`` answers (random, version 4, RFC 4122 variant) without building a
    ``UUID`` object, whose checks cost more than the random bytes."""
    value = int.from_bytes(os.urandom(16), "big")
    value = (value & ~(0xC000 << 48) | 0x8000 << 48) & ~(0xF000 << 64) | 4 << 76
    return f"{value:032x}"


_METRIC_CHILDREN_MAX = 4096
_metric_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _metrics_for(route: str, method: str, status: int) -> tuple[Any, Any]:
    """The request counter's and latency histogram's children for these labels, looked up once:
    ``labels()`` takes a lock and builds the label tuple on every call. Bounded, as the labels
    are (route templates, methods the server parses, statuses)."""
    key = (route, method, status)
    children = _metric_children.get(key)
    if children is None:
        children = (
            HTTP_REQUESTS.labels(route, method, str(status)),
            HTTP_LATENCY.labels(route, method),
        )
        if len(_metric_children) < _METRIC_CHILDREN_MAX:
            _metric_children[key] = children
    return children


def route_template(scope: Scope) -> str:
    """The matched route's path template (bounded metric labels), or `unmatched`."""
    route = scope.get("route")
    return str(getattr(route, "path", "unmatched")) if route is not None else "unmatched"


def _declared_length(value: bytes) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _request_headers(raw: Any) -> tuple[bytes, bytes]:
    """The ``x-request-id`` and ``content-length`` values (b"" when absent; the last one wins, as
    in ``dict(headers)``), read in one pass without building a dict of every header."""
    request_id = length = b""
    for name, value in raw:
        if name == b"x-request-id":
            request_id = value
        elif name == b"content-length":
            length = value
    return request_id, length


def _answer_for(exc: Exception, request_id: str) -> Response:
    if is_unstorable_text(exc):
        # The unit of work has rolled back: nothing of the request was kept.
        log.info("request.unstorable_text", error=type(exc).__name__)
        return error_response(
            UnstorableText.status_code,
            UnstorableText.code,
            "The request contains characters that cannot be stored (such as NUL).",
            {"request_id": request_id},
        )
    if is_unavailable(exc):
        log.warning("request.backend_unavailable", error=type(exc).__name__)
        return error_response(
            ServiceUnavailable.status_code,
            ServiceUnavailable.code,
            "A backing service is unavailable; try again shortly.",
            {"request_id": request_id},
            headers={"Retry-After": "5"},
        )
    log.exception("request.unhandled_error", error=type(exc).__name__)
    return error_response(
        InternalError.status_code,
        InternalError.code,
        "Something went wrong on our side. Quote the request id when reporting it.",
        {"request_id": request_id},
    )


async def _send(scope: Scope, send: Send, response: Response) -> None:
    async def no_body() -> Message:
        return {"type": "http.disconnect"}

    await response(scope, no_body, send)


class RequestContextMiddleware:
    """Binds a request id, enforces the body limit, logs once per request and records metrics.

    ``large_body_paths`` maps paths to their own limit: upload routes stream and enforce theirs
    while reading, so the default small limit does not apply to them. A path is exact, or a
    template whose ``{name}`` segments match any one segment (``/products/{product_id}/images``).
    """

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, large_body_paths: dict[str, int]
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.large_body_paths = {p: n for p, n in large_body_paths.items() if "{" not in p}
        self._templated = [
            (re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(p)) + "$"), n)
            for p, n in large_body_paths.items()
            if "{" in p
        ]

    def _limit(self, path: str) -> int:
        exact = self.large_body_paths.get(path)
        if exact is not None:
            return exact
        for pattern, limit in self._templated:
            if pattern.match(path):
                return limit
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_request_id, declared = _request_headers(scope["headers"])
        incoming = raw_request_id.decode("latin-1")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False
        too_large = False
        limit = self._limit(scope["path"])

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if too_large:
                return  # whatever the app answers to a cut-off body, the answer is 413
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        received = 0

        async def receive_wrapper() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise BodyTooLarge
            return message

        try:
            answer: Response | None = None
            try:
                if _declared_length(declared) > limit:
                    too_large = True
                else:
                    await self.app(scope, receive_wrapper, send_wrapper)
            except Exception as exc:  # last resort: the envelope, never a bare 500 page
                if response_started:
                    raise
                if not too_large:
                    answer = _answer_for(exc, request_id)
            if too_large and not response_started:
                too_large = False  # let our own answer through
                answer = error_response(
                    PayloadTooLarge.status_code,
                    PayloadTooLarge.code,
                    f"The request body is larger than {limit} bytes.",
                    {"max_bytes": limit},
                )
            if answer is not None:
                await _send(scope, send_wrapper, answer)
        finally:
            duration = time.perf_counter() - started
            route = route_template(scope)
            method = scope["method"]
            requests, latency = _metrics_for(route, method, status)
            requests.inc()
            latency.observe(duration)
            state: dict[str, Any] = scope.get("state", {})
            log_access(
                access_logger,
                {
                    "method": method,
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(duration * 1000, 2),
                    "user_id": state.get("user_id"),
                    "client": (scope.get("client") or ("", 0))[0],
                },
            )
            structlog.contextvars.clear_contextvars()
