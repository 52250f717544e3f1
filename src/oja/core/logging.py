"""Structured JSON logs with request and job context, scrubbed of secrets.

Context (``request_id``, ``user_id``, ``job_id``) travels in contextvars bound by the request middleware
and the job runner. :func:`redact` runs on every event: keys that name a secret are masked, and values
that look like a bearer token, JWT or Oja API key are masked wherever they appear.
"""

from __future__ import annotations

import functools
import json as jsonlib
import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

SECRET_KEYS = re.compile(
    r"pass(word)?|passwd|secret|token|otp|api[_-]?key|authorization|cookie|"
    r"signature|credential|recovery[_-]?code|private[_-]?key|client[_-]?secret|^code$",
    re.IGNORECASE,
)
SECRET_VALUES = re.compile(
    r"eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*"  # JWT
    r"|oja_(live|test|sk)_[A-Za-z0-9_-]{8,}"  # Oja API keys
    r"|(?i:bearer)\s+[\w.~+/=-]{8,}"  # bearer credentials
    r"|sk_(live|test)_[A-Za-z0-9]{8,}"  # provider secret keys
)
# `password=hunter2`, `"token": "abc"` inside free text (exception messages, tracebacks).
SECRET_ASSIGNMENTS = re.compile(
    r"(?i)(pass(?:word)?|passwd|secret|token|ticket|otp|api[_-]?key|authorization|signature)"
    r"(\"?\s*[=:]\s*\"?)([^\s\"',;&]+)"
)
# What either pattern above needs somewhere in a string to match. Most logged strings (a method, a
# route, a level, an id) have none of it and skip both substitutions: redaction was two thirds of
# the cost of an access line at INFO.
MAYBE_SECRET = re.compile(r"eyJ|oja_|sk_|(?i:bearer)|[=:]")
MASK = "***"
_PLAIN = frozenset({int, float, bool})
"""Types whose values hold no secret (a status, a duration): returned as they are."""


@functools.lru_cache(maxsize=1024)
def _secret_key(key: str) -> bool:
    """Whether a key names a secret; keys come from code, so a small cache answers nearly all."""
    return SECRET_KEYS.search(key) is not None


def _scrub(value: Any, depth: int = 0) -> Any:
    if depth > 6 or value is None or type(value) in _PLAIN:
        return value  # before the `Mapping` check, an ABC's slow `isinstance`
    if isinstance(value, str):
        if MAYBE_SECRET.search(value) is None:
            return value
        return SECRET_ASSIGNMENTS.sub(rf"\1\2{MASK}", SECRET_VALUES.sub(MASK, value))
    if isinstance(value, Mapping):
        return {
            k: (MASK if isinstance(k, str) and _secret_key(k) else _scrub(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v, depth + 1) for v in value]
    return value


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    return _redact(event_dict, _NOTHING)


def _redact(event_dict: MutableMapping[str, Any], trusted: frozenset[str]) -> Any:
    """:func:`redact`, leaving the values of the keys in ``trusted`` as they are (values the chain
    itself just wrote, such as its stamper's timestamp). A plain string without any of what a
    secret needs (most values) is left in place without a call; values are replaced in place,
    so the keys keep their order."""
    for key, value in event_dict.items():
        if _secret_key(key):
            event_dict[key] = MASK
        elif key in trusted:
            continue
        elif type(value) is str:
            if MAYBE_SECRET.search(value) is not None:
                event_dict[key] = _scrub(value)
        elif value is not None and type(value) not in _PLAIN:
            event_dict[key] = _scrub(value)
    return event_dict


_configured = False
# The processors every line runs through before rendering, as configured (for `log_access`).
_shared: list[Any] = []
# The same chain for the access line, whose redaction trusts the timestamp the chain just wrote.
_access_chain: list[Any] = []
# The root handler `configure_logging` installed and the renderer its formatter ends with.
_sink: dict[str, Any] = {}


def _direct_handler(logger: logging.Logger) -> logging.StreamHandler[Any] | None:
    """The configured root handler when it alone would get ``logger``'s INFO records, unfiltered
    and formatted by the configured formatter (production); None when anything else could see
    them (a test's handler or filter, another formatter, a logger that does not propagate)."""
    handler = _sink.get("handler")
    if handler is None or handler.formatter is not _sink["formatter"] or handler.filters:
        return None
    if handler.level > logging.INFO:
        return None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters or current.disabled:
            return None
        if current.parent is None:  # the root
            return handler if current.handlers == [handler] else None
        if current.handlers or not current.propagate:
            return None
        current = current.parent
    return None


def log_access(logger: logging.Logger, fields: dict[str, Any]) -> None:
    """The ``http.request`` line at INFO: the same JSON as
    ``structlog.get_logger(...).info("http.request", **fields)``, with less work per line.

    Once per request, so it skips what a general call pays for: structlog's bound-logger dispatch,
    the standard library's caller lookup (a stack walk) and a level check per processor chain.
    When the configured root handler alone would receive the line, the line is rendered here
    (what its formatter would render) and written to its stream under its lock: no
    ``LogRecord``, no record copy in the formatter, no handler walk.
    """
    if not logger.isEnabledFor(logging.INFO):
        return
    if not _shared:  # logging not configured here: the ordinary path
        structlog.get_logger(logger.name).info("http.request", **fields)
        return
    event_dict: Any = {**fields, "event": "http.request"}  # structlog puts the event last
    for processor in _access_chain:
        event_dict = processor(logger, "info", event_dict)
    handler = _direct_handler(logger)
    if handler is not None:
        line = _sink["line"](logger, "info", event_dict)
        handler.acquire()
        try:
            handler.stream.write(line + handler.terminator)
            handler.flush()
        except Exception:  # as `StreamHandler.emit` does: report, never fail the request
            handler.handleError(_record(logger, event_dict))
        finally:
            handler.release()
        return
    logger.handle(_record(logger, event_dict))


_NOTHING: frozenset[str] = frozenset()
_ACCESS_TRUSTED = frozenset({"event", "level", "timestamp"})
"""What the access line's chain itself writes last: its event name (the contextvars never replace
it), the level and the stamper's ISO timestamp, whose colons would otherwise send it through both
substitutions on every line."""


def _redact_stamped(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """:func:`redact` for the access line, after the chain's level and stamper."""
    return _redact(event_dict, _ACCESS_TRUSTED)


def _line_renderer(renderer: Any) -> Any:
    """``renderer``, or for structlog's JSON renderer over :func:`json.dumps` the same encoding
    with the encoder built once: ``json.dumps`` with any option builds one per call."""
    if isinstance(renderer, structlog.processors.JSONRenderer) and renderer._dumps is jsonlib.dumps:
        encode = jsonlib.JSONEncoder(**renderer._dumps_kw).encode
        return lambda _logger, _method, event_dict: encode(event_dict)
    return renderer


def _record(logger: logging.Logger, event_dict: Any) -> logging.LogRecord:
    # What `ProcessorFormatter.wrap_for_formatter` attaches: the formatter then only renders.
    extra = {"_logger": logger, "_name": "info"}
    return logger.makeRecord(
        logger.name, logging.INFO, "(unknown file)", 0, event_dict, (), None, extra=extra
    )


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """Route structlog and the standard library through one JSON renderer on stderr."""
    global _configured
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,
    ]
    _shared[:] = shared
    # The stamper runs before the redaction: the timestamp the redaction sees is always its own.
    _access_chain[:] = [_redact_stamped if p is redact else p for p in shared]
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        # The level filter first: a dropped line (INFO access lines under WARNING) then costs one
        # `isEnabledFor`, not every processor's work.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: a cached module-level logger ignores later reconfiguration (tests capturing
        # logs, a worker reconfiguring after fork); one request logs a handful of lines at most.
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    _sink.update(
        handler=handler, formatter=formatter, renderer=renderer, line=_line_renderer(renderer)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "httpx", "httpcore", "botocore", "urllib3", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("uvicorn.error").handlers.clear()
    logging.getLogger("uvicorn").handlers.clear()
    _configured = True
