"""The access line's short path renders exactly what the structlog call renders."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from oja.core.logging import configure_logging, log_access

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4eHh4eHh4eCJ9.c2lnbmF0dXJlLXZhbHVl"
FIELDS: dict[str, Any] = {
    "method": "GET",
    "path": f"/files/{JWT}",
    "route": "/files/{file_id}",
    "status": 200,
    "duration_ms": 1.25,
    "user_id": "0190e0a1-1111-7222-8333-444455556666",
    "client": "127.0.0.1",
}


@pytest.fixture
def rendered() -> Iterator[io.StringIO]:
    """Lines as production renders them (the root handler's formatter), at INFO."""
    configure_logging("INFO")
    root = logging.getLogger()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id="req-1")
    try:
        yield out
    finally:
        structlog.contextvars.clear_contextvars()
        root.removeHandler(handler)


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_the_access_line_is_the_structlog_line(rendered: io.StringIO) -> None:
    log_access(logging.getLogger("oja.http"), dict(FIELDS))
    structlog.get_logger("oja.http").info("http.request", **FIELDS)
    short, ordinary = lines(rendered)
    assert short.pop("timestamp").endswith("Z")
    ordinary.pop("timestamp")
    assert short == ordinary
    assert list(short) == list(ordinary)  # the same keys in the same order
    assert short == {
        **FIELDS,
        "path": "/files/***",  # redacted like every line
        "event": "http.request",
        "request_id": "req-1",
        "level": "info",
        "logger": "oja.http",
    }


def test_no_access_line_below_the_level(rendered: io.StringIO) -> None:
    logging.getLogger().setLevel(logging.WARNING)
    log_access(logging.getLogger("oja.http"), dict(FIELDS))
    assert rendered.getvalue() == ""


def test_the_direct_write_is_the_structlog_line() -> None:
    """With the configured root handler alone in the way, the line is written to its stream
    without a record: the same JSON, then the ordinary path again once a test adds a handler."""
    configure_logging("INFO")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    out = io.StringIO()
    saved = handler.setStream(out)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id="req-2")
    made: list[logging.LogRecord] = []
    logger = logging.getLogger("oja.http")
    original = logger.makeRecord

    def counting(*args: Any, **kwargs: Any) -> logging.LogRecord:
        made.append(record := original(*args, **kwargs))
        return record

    logger.makeRecord = counting  # type: ignore[method-assign]
    try:
        log_access(logger, dict(FIELDS))
        assert made == []  # written directly
        structlog.get_logger("oja.http").info("http.request", **FIELDS)
        assert len(made) == 1  # the structlog call's own record
        other = logging.StreamHandler(io.StringIO())
        logger.addHandler(other)
        log_access(logger, dict(FIELDS))  # someone else listens: the ordinary path
        logger.removeHandler(other)
        assert len(made) == 2
    finally:
        del logger.makeRecord
        handler.setStream(saved or sys.stderr)
        structlog.contextvars.clear_contextvars()
    direct, ordinary, through = lines(out)
    for line in (direct, ordinary, through):
        assert line.pop("timestamp").endswith("Z")
    assert direct == ordinary == through
    assert list(direct) == list(ordinary)
    assert direct == {
        **FIELDS,
        "path": "/files/***",
        "event": "http.request",
        "request_id": "req-2",
        "level": "info",
        "logger": "oja.http",
    }


def test_plain_values_pass_redaction_untouched() -> None:
    from oja.core.logging import redact

    event = {"status": 200, "duration_ms": 1.5, "ok": True, "user_id": None, "token": 7}
    assert redact(None, "info", dict(event)) == {**event, "token": "***"}
