"""Every query of the notifications tables. Reads of a user's notifications are scoped by
``user_id`` here: another user's notification is simply not found."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, bindparam, func, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.db import insert_ignore
from oja.core.pagination import PageParams
from oja.identity.models import User
from oja.notifications.models import (
    DeliveryStatus,
    Notification,
    NotificationDelivery,
    NotificationPreference,
    NotificationSetting,
    NotificationTemplate,
)

CHUNK = 500
"""Rows per multi-row statement: well under SQLite's and asyncpg's parameter limits."""


@dataclass(frozen=True, slots=True)
class Recipient:
    id: uuid.UUID
    email: str | None
    mobile: str | None
    name: str | None
    locale: str | None


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def recipients(db: AsyncSession, user_ids: Sequence[uuid.UUID]) -> list[Recipient]:
    """The active users among ``user_ids`` (unknown and disabled ones are skipped)."""
    found: list[Recipient] = []
    for chunk in _chunks(user_ids):
        result = await db.execute(
            select(User.id, User.email, User.mobile, User.name, User.locale).where(
                User.id.in_(chunk), User.is_active.is_(True)
            )
        )
        found.extend(Recipient(*row) for row in result.all())
    return found


async def preferences_in(
    db: AsyncSession, user_ids: Sequence[uuid.UUID], category: str
) -> dict[uuid.UUID, dict[str, bool]]:
    """The stored choices of ``user_ids`` for ``category``, by user then channel."""
    chosen: dict[uuid.UUID, dict[str, bool]] = {}
    for chunk in _chunks(user_ids):
        result = await db.execute(
            select(
                NotificationPreference.user_id,
                NotificationPreference.channel,
                NotificationPreference.enabled,
            ).where(
                NotificationPreference.user_id.in_(chunk),
                NotificationPreference.category == category,
            )
        )
        for user_id, channel, enabled in result.all():
            chosen.setdefault(user_id, {})[channel] = enabled
    return chosen


async def preferences_of(db: AsyncSession, user_id: uuid.UUID) -> list[NotificationPreference]:
    result = await db.scalars(
        select(NotificationPreference).where(NotificationPreference.user_id == user_id)
    )
    return list(result)


async def set_preference(
    db: AsyncSession, user_id: uuid.UUID, category: str, channel: str, enabled: bool
) -> None:
    row = await db.get(NotificationPreference, (user_id, category, channel))
    if row is None:
        db.add(
            NotificationPreference(
                user_id=user_id, category=category, channel=channel, enabled=enabled
            )
        )
    else:
        row.enabled = enabled


async def settings_in(
    db: AsyncSession, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, NotificationSetting]:
    """The stored quiet hours and digest choices of ``user_ids`` (users without a row absent)."""
    found: dict[uuid.UUID, NotificationSetting] = {}
    for chunk in _chunks(user_ids):
        rows = await db.scalars(
            select(NotificationSetting).where(NotificationSetting.user_id.in_(chunk))
        )
        found.update({row.user_id: row for row in rows})
    return found


async def user_exists(db: AsyncSession, user_id: uuid.UUID) -> bool:
    return await db.scalar(select(User.id).where(User.id == user_id)) is not None


async def setting_of(db: AsyncSession, user_id: uuid.UUID) -> NotificationSetting | None:
    return await db.get(NotificationSetting, user_id)


async def insert_notifications(db: AsyncSession, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Insert, skipping any (event, user) already notified; the ids actually inserted."""
    if not rows:
        return set()
    # executemany ("insertmanyvalues"): one cached statement, batched with RETURNING; a multi-row
    # VALUES would compile thousands of bind parameters afresh on every call.
    result = await db.execute(insert_ignore(db, Notification).returning(Notification.id), rows)
    return set(result.scalars())


async def insert_deliveries(db: AsyncSession, rows: list[dict[str, Any]]) -> list[uuid.UUID]:
    if not rows:
        return []
    # ``render_nulls``: a None (an SMS's subject, an unheld send_after) is sent as NULL rather than
    # left out, so the email and the SMS rows share one statement; the ORM's bulk INSERT batches
    # rows by the columns they leave out, one INSERT per channel. Neither column has a default.
    statement = insert_ignore(db, NotificationDelivery).returning(NotificationDelivery.id)
    result = await db.execute(statement.execution_options(render_nulls=True), rows)
    return list(result.scalars())


def _mine(user_id: uuid.UUID, unread: bool) -> list[Any]:
    where = [Notification.user_id == user_id]
    if unread:
        where.append(Notification.read_at.is_(None))
    return where


async def page_of(
    db: AsyncSession, user_id: uuid.UUID, *, unread: bool, params: PageParams
) -> tuple[list[Notification], int]:
    where = _mine(user_id, unread)
    total = await db.scalar(select(func.count()).select_from(Notification).where(*where)) or 0
    result = await db.scalars(
        select(Notification)
        .where(*where)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .offset(params.offset)
        .limit(params.per_page)
    )
    return list(result), total


async def unread_count(db: AsyncSession, user_id: uuid.UUID) -> int:
    where = _mine(user_id, True)
    return await db.scalar(select(func.count()).select_from(Notification).where(*where)) or 0


async def get_mine(
    db: AsyncSession, user_id: uuid.UUID, notification_id: uuid.UUID
) -> Notification | None:
    return await db.scalar(
        select(Notification).where(
            Notification.id == notification_id, Notification.user_id == user_id
        )
    )


async def mark_all_read(db: AsyncSession, user_id: uuid.UUID, now: datetime) -> int:
    result = await db.execute(
        update(Notification)
        .where(*_mine(user_id, True))
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# -- templates ---------------------------------------------------------------------------------


async def overrides_of(db: AsyncSession, event: str | None = None) -> list[NotificationTemplate]:
    query = select(NotificationTemplate)
    if event is not None:
        query = query.where(NotificationTemplate.event == event)
    return list(await db.scalars(query))


async def override(
    db: AsyncSession, event: str, channel: str, locale: str
) -> NotificationTemplate | None:
    return await db.scalar(
        select(NotificationTemplate).where(
            NotificationTemplate.event == event,
            NotificationTemplate.channel == channel,
            NotificationTemplate.locale == locale,
        )
    )


# -- deliveries --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery just moved to ``sending``: what its send needs, and whose it is."""

    channel: str
    address: str
    subject: str | None
    body: str
    attempts: int
    user_id: uuid.UUID | None
    event: str | None


_delivery = cast(Table, NotificationDelivery.__table__)


def _status_in(*statuses: str) -> ColumnElement[bool]:
    """The delivery's status is one of ``statuses``, compared as ``status || ''`` so that an
    UPDATE by id finds its row through the primary key alone (issue 25). On ``id = $1 AND status =
    $2`` PostgreSQL costs the (status, created_at) index exactly as the primary key (8.29 each) and
    took it: every ``pending`` index entry the day ever made, dead ones included, 99 of a claim's
    118 buffers on 3,000 deliveries, growing all day."""
    status = _delivery.c.status + literal_column("''")
    return status == statuses[0] if len(statuses) == 1 else status.in_(statuses)


_of_notification = Notification.id == _delivery.c.notification_id
# Prebuilt and cached once: the claim and the recipient's user and event in one round trip (the
# subqueries read the delivery's notification; SQLite and PostgreSQL both allow them in RETURNING).
_CLAIM = (
    update(_delivery)
    .where(_delivery.c.id == bindparam("delivery_id"), _status_in(DeliveryStatus.pending))
    .values(
        status=DeliveryStatus.sending,
        attempts=_delivery.c.attempts + 1,
        updated_at=bindparam("now"),
    )
    .returning(
        _delivery.c.channel,
        _delivery.c.address,
        _delivery.c.subject,
        _delivery.c.body,
        _delivery.c.attempts,
        select(Notification.user_id).where(_of_notification).scalar_subquery(),
        select(Notification.event).where(_of_notification).scalar_subquery(),
    )
)


async def claim_delivery(db: AsyncSession, delivery_id: uuid.UUID) -> Claimed | None:
    """Move a ``pending`` delivery to ``sending`` (one conditional UPDATE); None if not pending."""
    row = (await db.execute(_CLAIM, {"delivery_id": delivery_id, "now": utcnow()})).first()
    return Claimed(*row) if row is not None else None


async def move_delivery(
    db: AsyncSession,
    delivery_id: uuid.UUID,
    *,
    from_statuses: Iterable[str],
    **values: Any,
) -> bool:
    """Set ``values`` on the delivery if its status is one of ``from_statuses``."""
    result = await db.execute(
        update(NotificationDelivery)
        .where(NotificationDelivery.id == delivery_id, _status_in(*from_statuses))
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


_MARK_SENT = (
    update(_delivery)
    .where(_delivery.c.id == bindparam("delivery_id"), _status_in(DeliveryStatus.sending))
    .values(
        status=DeliveryStatus.sent,
        provider=bindparam("provider"),
        provider_message_id=bindparam("message_id"),
        sent_at=bindparam("now"),
        last_error=None,
        updated_at=bindparam("now"),
    )
)


async def mark_sent(
    db: AsyncSession, delivery_id: uuid.UUID, provider: str, message_id: str | None
) -> bool:
    """``sending`` → ``sent`` with the provider's message id (a prebuilt statement: every send
    makes one)."""
    result = await db.execute(
        _MARK_SENT,
        {
            "delivery_id": delivery_id,
            "provider": provider,
            "message_id": message_id,
            "now": utcnow(),
        },
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def delivery_status(db: AsyncSession, delivery_id: uuid.UUID) -> str | None:
    return await db.scalar(
        select(NotificationDelivery.status).where(NotificationDelivery.id == delivery_id)
    )


async def delivery_by_provider_id(
    db: AsyncSession, provider: str, message_id: str
) -> NotificationDelivery | None:
    return await db.scalar(
        select(NotificationDelivery).where(
            NotificationDelivery.provider_message_id == message_id,
            NotificationDelivery.provider == provider,
        )
    )


async def deliveries_of(db: AsyncSession, notification_id: uuid.UUID) -> list[NotificationDelivery]:
    return list(
        await db.scalars(
            select(NotificationDelivery).where(
                NotificationDelivery.notification_id == notification_id
            )
        )
    )


@dataclass(frozen=True, slots=True)
class Held:
    id: uuid.UUID
    user_id: uuid.UUID
    address: str
    subject: str | None
    body: str


async def users_with_held(db: AsyncSession, limit: int) -> list[uuid.UUID]:
    """Up to ``limit`` users with deliveries waiting for the digest."""
    result = await db.scalars(
        select(Notification.user_id)
        .join(NotificationDelivery, NotificationDelivery.notification_id == Notification.id)
        .where(NotificationDelivery.status == DeliveryStatus.held)
        .group_by(Notification.user_id)
        .order_by(Notification.user_id)
        .limit(limit)
    )
    return list(result)


async def held_of(db: AsyncSession, user_ids: Sequence[uuid.UUID]) -> list[Held]:
    """The deliveries of ``user_ids`` waiting for the digest, oldest first."""
    result = await db.execute(
        select(
            NotificationDelivery.id,
            Notification.user_id,
            NotificationDelivery.address,
            NotificationDelivery.subject,
            NotificationDelivery.body,
        )
        .join(Notification, Notification.id == NotificationDelivery.notification_id)
        .where(
            NotificationDelivery.status == DeliveryStatus.held,
            Notification.user_id.in_(list(user_ids)),
        )
        .order_by(NotificationDelivery.created_at, NotificationDelivery.id)
    )
    return [Held(*row) for row in result.all()]


async def fold_into_digest(
    db: AsyncSession, carrier_id: uuid.UUID, folded: Sequence[uuid.UUID], subject: str, body: str
) -> bool:
    """The carrier becomes the pending digest; the others ``digested`` into it. False if another
    run took the carrier first (nothing changed then)."""
    now = utcnow()
    moved = await db.execute(
        update(NotificationDelivery)
        .where(
            NotificationDelivery.id == carrier_id,
            NotificationDelivery.status == DeliveryStatus.held,
        )
        .values(status=DeliveryStatus.pending, subject=subject, body=body, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        return False
    for chunk in _chunks(list(folded)):
        await db.execute(
            update(NotificationDelivery)
            .where(
                NotificationDelivery.id.in_(chunk),
                NotificationDelivery.status == DeliveryStatus.held,
            )
            .values(status=DeliveryStatus.digested, digest_id=carrier_id, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    return True
