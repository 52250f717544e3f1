"""Order updates pushed live: every ``order.updated`` is published to the realtime module in the
unit of work that moved the order (so a rolled-back move pushes nothing), addressed to the buyer,
the store's staff and the order's own stream; and the marketplace tells realtime who those are.

Imported by both composition roots (through :mod:`oja.marketplace.orders.jobs`): orders move in
API requests and in jobs (payment confirmation, reservation expiry).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from oja.core import events
from oja.core.db import current_session
from oja.marketplace.orders import repository
from oja.realtime import publish
from oja.realtime.audiences import register_authorizer, register_user_topics, user_topic


def vendor_topic(vendor_id: uuid.UUID | str) -> str:
    return f"vendor:{vendor_id}"


def order_topic(order_id: uuid.UUID | str) -> str:
    return f"order:{order_id}"


@events.on("order.updated")
async def push_order_update(
    *,
    order_id: uuid.UUID,
    group_id: uuid.UUID,
    vendor_id: uuid.UUID,
    buyer_id: uuid.UUID,
    from_status: str,
    status: str,
    note: str | None = None,
    **_: Any,
) -> None:
    await publish(
        current_session(),
        "order.updated",
        {
            "order_id": order_id,
            "group_id": group_id,
            "vendor_id": vendor_id,
            "from_status": from_status,
            "status": status,
            "note": note,
        },
        [user_topic(buyer_id), vendor_topic(vendor_id), order_topic(order_id)],
    )


async def staff_topics(session: AsyncSession, user_id: uuid.UUID) -> Iterable[str]:
    return [vendor_topic(v) for v in await repository.vendor_ids_of_member(session, user_id)]


async def may_watch_order(session: AsyncSession, user_id: uuid.UUID, ident: str) -> bool:
    try:
        order_id = uuid.UUID(ident)
    except ValueError:
        return False
    return await repository.may_watch_order(session, user_id, order_id)


register_user_topics(staff_topics)
register_authorizer("order", may_watch_order)
