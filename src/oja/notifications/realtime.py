"""The hook through which in-app notifications will reach open WebSockets.

Realtime fan-out belongs to ``oja.realtime`` (being built beside this module); until it lands,
:func:`push_in_app` does nothing and clients poll ``GET /notifications/unread-count``.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from oja.notifications.models import Notification


async def push_in_app(session: AsyncSession, notification: Notification) -> None:
    """Announce ``notification`` to its user's open connections once ``session`` commits.

    Called by the fan-out job for every in-app notification it stores, inside its unit of work:
    the realtime module should register an after-commit publish here, so a rolled-back fan-out
    pushes nothing. Does nothing yet.
    """
    return
