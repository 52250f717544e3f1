"""The periodic refreshes, and purchases recorded from the order events.

Importing this module (both composition roots do, through :mod:`oja.job_modules`) subscribes to
``account.session_started`` (a sign-in attributes the browser's anonymous history to the user, see
:func:`service.attribute_anonymous`) and to ``order.confirmed``: a store order confirmed — by a verified payment or by its store — records one
purchase per product in that unit of work, so a rolled-back confirmation records nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from oja.core import events
from oja.core.db import current_session
from oja.core.jobs import JobContext, job
from oja.identity.events import ACCOUNT_SESSION_STARTED


@events.on("order.confirmed")
async def record_purchase(
    *,
    order_id: uuid.UUID | None = None,
    vendor_id: uuid.UUID | None = None,
    buyer_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    **_: Any,
) -> None:
    # Only a store order's own move says which lines were bought; other emitters of the event name
    # (a notification test, a replayed template) carry no order and record nothing.
    from oja.marketplace.recommendations import service

    if order_id is None or vendor_id is None or buyer_id is None or group_id is None:
        return
    await service.record_purchase(
        current_session(),
        order_id=order_id,
        vendor_id=vendor_id,
        buyer_id=buyer_id,
        group_id=group_id,
    )


@events.on(ACCOUNT_SESSION_STARTED)
async def attribute_anonymous(
    *,
    db: AsyncSession | None = None,
    user_id: uuid.UUID | None = None,
    client_id: str | None = None,
    **_: Any,
) -> None:
    # In the sign-in's transaction: a refused or rolled-back sign-in merges nothing.
    from oja.marketplace.recommendations import service

    if db is not None and user_id is not None:
        await service.attribute_anonymous(db, user_id, client_id)


@job("recommendations.refresh", periodic=300, timeout=600)
async def refresh(ctx: JobContext) -> dict[str, Any]:
    """Rewrite what the behaviour since the last refresh touched (see :func:`service.refresh`)."""
    from oja.marketplace.recommendations import service

    return await service.refresh(ctx.session, ctx.runtime.settings)


@job("recommendations.rebuild", periodic=24 * 3600, timeout=1800)
async def rebuild(ctx: JobContext) -> dict[str, Any]:
    """Rewrite every list from the whole history window."""
    from oja.marketplace.recommendations import service

    return await service.refresh(ctx.session, ctx.runtime.settings, full=True)


@job("recommendations.similar", periodic=3600, timeout=1800)
async def refresh_similar(ctx: JobContext) -> dict[str, Any]:
    """Embed changed products and recompute the content neighbours."""
    from oja.marketplace.recommendations import service

    return await service.refresh_similar(ctx.session, ctx.runtime.settings)
