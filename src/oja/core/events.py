"""In-process domain events: how a lower module tells a higher one that something happened.

Layering forbids ``documents`` importing ``rag``; instead ``documents`` emits
``documents.text_extracted`` and ``rag`` subscribes at import time. Handlers run in the emitter's unit
of work, so what they do — typically enqueueing their own job — commits or rolls back with the event's
cause. Handlers must be quick; real work belongs in the job they enqueue.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

Handler = Callable[..., Awaitable[None]]
_handlers: dict[str, list[Handler]] = defaultdict(list)
log = structlog.get_logger("oja.events")


def subscribe(event: str, handler: Handler) -> None:
    """Register ``handler`` for ``event`` (dotted ``module.subject.event`` names). Idempotent."""
    if handler not in _handlers[event]:
        _handlers[event].append(handler)


def on(event: str) -> Callable[[Handler], Handler]:
    """Decorator form of :func:`subscribe`."""

    def register(handler: Handler) -> Handler:
        subscribe(event, handler)
        return handler

    return register


async def emit(event: str, **payload: Any) -> int:
    """Call every handler of ``event`` with ``payload``; returns how many ran."""
    handlers = list(_handlers.get(event, ()))
    for handler in handlers:
        await handler(**payload)
    if handlers:
        log.debug("events.emitted", event_name=event, handlers=len(handlers))
    return len(handlers)
