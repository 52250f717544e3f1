"""In-app notifications pushed to their user's open WebSockets (``oja.realtime``).

The fan-out job calls :func:`push_in_app` with the in-app notifications it stores, inside its unit
of work: realtime records the event in that transaction and pushes it after the commit, so a
rolled-back fan-out pushes nothing and a crash after the commit is caught up by realtime's drain.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from oja.notifications.models import Notification
from oja.realtime import publish_many
from oja.realtime.audiences import user_topic

EVENT = "notification.created"


async def push_in_app(session: AsyncSession, notifications: list[Notification]) -> None:
    """Announce each of ``notifications`` to its user's sockets once ``session`` commits (one
    batched write for all of them: a fan-out to 10,000 followers is two statements here)."""
    await publish_many(
        session,
        [
            (
                EVENT,
                {
                    "id": n.id,
                    "event": n.event,
                    "category": n.category,
                    "title": n.title,
                    "body": n.body,
                    "data": n.data,
                    "created_at": n.created_at,
                },
                [user_topic(n.user_id)],
            )
            for n in notifications
        ],
    )
