"""In-app notifications pushed to their user's open WebSockets (``oja.realtime``).

The fan-out job calls :func:`push_in_app` for every in-app notification it stores, inside its unit
of work: realtime records the event in that transaction and pushes it after the commit, so a
rolled-back fan-out pushes nothing and a crash after the commit is caught up by realtime's drain.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from oja.notifications.models import Notification
from oja.realtime import publish
from oja.realtime.audiences import user_topic

EVENT = "notification.created"


async def push_in_app(session: AsyncSession, notification: Notification) -> None:
    """Announce ``notification`` to its user's sockets once ``session`` commits."""
    await publish(
        session,
        EVENT,
        {
            "id": notification.id,
            "event": notification.event,
            "category": notification.category,
            "title": notification.title,
            "body": notification.body,
            "data": notification.data,
            "created_at": notification.created_at,
        },
        [user_topic(notification.user_id)],
    )
