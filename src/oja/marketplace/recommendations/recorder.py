"""Recording behaviour without slowing the request that shows it.

* **Views** (``GET /products/{id}``) are appended to a buffer held by the API process (one list
  append, no I/O in the request). A background task after the response writes the buffer in one
  multi-row INSERT once it holds ``recommendation_view_batch`` views or its oldest is older than
  ``recommendation_view_flush_seconds``; shutting the app down writes what is left. Views are
  analytics, not records: a crashed process loses at most its unflushed buffer, and a failed write
  is logged and dropped rather than retried into the next request.
* **Cart adds, purchases and searches** are one row added to the unit of work that caused them
  (flushed with its commit, gone with its rollback): a cart add is already a write, and a purchase
  must not be recorded for an order that was not confirmed.

A caller is a *subject*: the user's id when signed in, else ``c:<client id>`` from the
``X-Client-Id`` header an anonymous storefront sends (8–64 letters, digits, ``-`` or ``_``; any
other value is ignored, never an error on a product page).
"""

from __future__ import annotations

import re
import time
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import BackgroundTasks
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.db import own_transaction
from oja.core.ids import uuid7
from oja.core.runtime import Runtime
from oja.marketplace.recommendations.config import RecommendationSettings
from oja.marketplace.recommendations.models import BehaviourEvent, BehaviourKind

log = structlog.get_logger("oja.marketplace.recommendations")
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
QUERY_MAX = 200


def subject_of(user_id: uuid.UUID | None, client_id: str | None) -> str | None:
    """The subject behaviour is recorded under, or None for a caller we cannot tell apart."""
    if user_id is not None:
        return str(user_id)
    if client_id is not None and CLIENT_ID.fullmatch(client_id):
        return f"c:{client_id}"
    return None


@dataclass
class ViewBuffer:
    rows: list[dict[str, Any]] = field(default_factory=list)
    oldest: float | None = None
    """``time.monotonic()`` of the oldest buffered view."""

    def due(self, settings: RecommendationSettings) -> bool:
        if not self.rows:
            return False
        if len(self.rows) >= settings.recommendation_view_batch:
            return True
        assert self.oldest is not None
        return time.monotonic() - self.oldest >= settings.recommendation_view_flush_seconds


_buffers: weakref.WeakKeyDictionary[Any, ViewBuffer] = weakref.WeakKeyDictionary()


def buffer_for(runtime: Runtime) -> ViewBuffer:
    found = _buffers.get(runtime.database)
    if found is None:
        found = _buffers[runtime.database] = ViewBuffer()
    return found


def record_view(
    runtime: Runtime, background: BackgroundTasks, subject: str | None, product_id: uuid.UUID
) -> None:
    """Buffer a view; schedule the write after the response when the buffer is due."""
    if subject is None:
        return
    buffer = buffer_for(runtime)
    if not buffer.rows:
        buffer.oldest = time.monotonic()
    buffer.rows.append(
        {
            "id": uuid7(),
            "kind": BehaviourKind.view.value,
            "subject": subject,
            "product_id": product_id,
            "created_at": utcnow(),
        }
    )
    if buffer.due(runtime.settings.section(RecommendationSettings)):
        background.add_task(flush_views, runtime)


def relabel_buffered(runtime: Runtime, anonymous: str, user: str) -> int:
    """Buffered, not yet written views of ``anonymous`` become ``user``'s (a sign-in's merge
    covers the rows already written; these would otherwise land under the browser's id)."""
    moved = 0
    for row in buffer_for(runtime).rows:
        if row["subject"] == anonymous:
            row["subject"] = user
            moved += 1
    return moved


async def flush_views(runtime: Runtime) -> int:
    """Write the buffered views in one INSERT; how many were written."""
    buffer = buffer_for(runtime)
    # Taken synchronously (no await between read and swap): views buffered during the write
    # start the next batch.
    rows, buffer.rows, buffer.oldest = buffer.rows, [], None
    if not rows:
        return 0
    try:
        async with own_transaction(runtime.database) as db:
            await db.execute(insert(BehaviourEvent), rows)
    except Exception:
        log.exception("recommendations.views.flush_failed", dropped=len(rows))
        return 0
    return len(rows)


def record(
    db: AsyncSession,
    kind: BehaviourKind,
    subject: str,
    product_id: uuid.UUID | None = None,
    *,
    group_id: uuid.UUID | None = None,
    query: str | None = None,
    category_id: uuid.UUID | None = None,
) -> None:
    """Add one behaviour row to the caller's unit of work."""
    db.add(
        BehaviourEvent(
            kind=kind,
            subject=subject,
            product_id=product_id,
            group_id=group_id,
            query=query,
            category_id=category_id,
        )
    )


def record_search(
    db: AsyncSession, subject: str | None, query: str, category_id: uuid.UUID | None = None
) -> None:
    """For the search module: record a search in its unit of work (nothing for a caller we cannot
    tell apart, or an empty query). ``category_id``: the category the answer found most of (the
    first of its category facet), what the personal lists' category affinity reads (see
    :data:`~oja.marketplace.recommendations.scoring.SEARCH_WEIGHT`)."""
    if subject is None or not query.strip():
        return
    record(
        db,
        BehaviourKind.search,
        subject,
        query=query.strip()[:QUERY_MAX],
        category_id=category_id,
    )
