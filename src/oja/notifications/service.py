"""The notification rules: fanning an event out to its recipients, the in-app inbox, preferences
and the admins' templates. Services never commit; jobs and requests own the unit of work."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from jinja2 import TemplateError
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.ids import uuid7
from oja.core.pagination import Page, PageParams
from oja.notifications import repository
from oja.notifications.catalogue import (
    DEFAULT_LOCALE,
    DEFAULT_PREFERENCES,
    EVENTS,
    EXTERNAL_CHANNELS,
    Channel,
    EventSpec,
    Template,
)
from oja.notifications.errors import NotificationNotFound, TemplateInvalid, TemplateNotFound
from oja.notifications.models import DeliveryStatus, Notification, NotificationTemplate
from oja.notifications.realtime import push_in_app
from oja.notifications.repository import Recipient
from oja.notifications.schemas import (
    AlwaysSent,
    MarkedRead,
    NotificationOut,
    Preference,
    PreferencesOut,
    PreferencesUpdate,
    TemplateOut,
    TemplateUpdate,
    UnreadCount,
)
from oja.notifications.templates import TemplateProblem, check, render

log = structlog.get_logger("oja.notifications")
RESERVED_KEYS = frozenset({"recipient_ids", "event_id"})
"""Payload keys that address the event rather than describe it (not template data)."""


@dataclass(frozen=True, slots=True)
class FanOut:
    notifications: int
    deliveries: list[uuid.UUID]


# -- fan-out -----------------------------------------------------------------------------------


async def fan_out(
    db: AsyncSession, event: str, event_id: uuid.UUID, payload: dict[str, Any]
) -> FanOut:
    """One in-app notification per active recipient, and one pending delivery per external channel
    the recipient's preferences allow (or the event makes mandatory) and an address exists for.

    Idempotent: an ``event_id`` already fanned out to a user adds nothing for that user.
    """
    spec = EVENTS.get(event)
    if spec is None:
        log.warning("notifications.event.unknown", event_name=event)
        return FanOut(0, [])
    recipient_ids = list(dict.fromkeys(uuid.UUID(str(i)) for i in payload.get("recipient_ids", [])))
    data = {k: v for k, v in payload.items() if k not in RESERVED_KEYS}
    people = await repository.recipients(db, recipient_ids)
    chosen = await repository.preferences_in(db, [p.id for p in people], spec.category)
    overrides = {(o.channel, o.locale): o for o in await repository.overrides_of(db, event)}
    now = utcnow()
    notifications: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    rendered_for: dict[tuple[Channel, str | None, str | None], tuple[str | None, str] | None] = {}

    def rendered(channel: Channel, person: Recipient) -> tuple[str | None, str] | None:
        # The data is the event's: recipients who share a locale and a name share the text.
        key = (channel, person.locale, person.name)
        if key not in rendered_for:
            context = {**data, "recipient_name": person.name}
            rendered_for[key] = _render(spec, channel, person.locale, context, overrides)
        return rendered_for[key]

    for person in people:
        title_body = rendered(Channel.in_app, person)
        title, body = title_body if title_body else (spec.name, "")
        notification_id = uuid7()
        notifications.append(
            {
                "id": notification_id,
                "user_id": person.id,
                "event_id": event_id,
                "event": spec.name,
                "category": spec.category.value,
                "title": (title or spec.name)[:300],
                "body": body,
                "data": data,
                "read_at": None,
                "created_at": now,
            }
        )
        for channel in _channels(spec, person, chosen.get(person.id, {})):
            text = rendered(channel, person)
            if text is None:
                continue
            deliveries.append(
                {
                    "id": uuid7(),
                    "notification_id": notification_id,
                    "channel": channel.value,
                    "status": DeliveryStatus.pending.value,
                    "address": person.email if channel == Channel.email else person.mobile,
                    "subject": text[0][:300] if text[0] else None,
                    "body": text[1],
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    inserted = await repository.insert_notifications(db, notifications)
    deliveries = [d for d in deliveries if d["notification_id"] in inserted]
    delivery_ids = await repository.insert_deliveries(db, deliveries)
    for row in notifications:
        if row["id"] in inserted:
            await push_in_app(db, Notification(**row))
    return FanOut(len(inserted), delivery_ids)


def _channels(spec: EventSpec, person: Recipient, chosen: dict[str, bool]) -> list[Channel]:
    addresses = {Channel.email: person.email, Channel.sms: person.mobile}
    return [
        channel
        for channel in EXTERNAL_CHANNELS
        if addresses[channel]
        and (spec.mandatory or chosen.get(channel, DEFAULT_PREFERENCES[spec.category][channel]))
    ]


def _candidates(
    spec: EventSpec,
    channel: Channel,
    locale: str | None,
    overrides: dict[tuple[str, str], NotificationTemplate],
) -> list[Template]:
    """Overrides for the user's locale, its language, then English; last the default in code."""
    locales = list(dict.fromkeys(x for x in (locale, (locale or "")[:2], DEFAULT_LOCALE) if x))
    found = [overrides.get((channel.value, loc)) for loc in locales]
    templates = [Template(o.body, o.subject) for o in found if o is not None]
    default = spec.templates.get(channel)
    return [*templates, default] if default is not None else templates


def _render(
    spec: EventSpec,
    channel: Channel,
    locale: str | None,
    context: dict[str, Any],
    overrides: dict[tuple[str, str], NotificationTemplate],
) -> tuple[str | None, str] | None:
    """(subject, body) from the first template that renders with ``context``; None if none does
    (an emitter that left out data the templates need: logged, that channel skipped)."""
    for template in _candidates(spec, channel, locale, overrides):
        try:
            subject = render(template.subject, context) if template.subject else None
            return subject, render(template.body, context)
        except (TemplateError, TemplateProblem) as exc:  # SecurityError is a TemplateError
            log.warning(
                "notifications.template.render_failed",
                event_name=spec.name,
                channel=channel.value,
                error=f"{type(exc).__name__}: {exc}"[:300],
            )
    return None


# -- the in-app inbox --------------------------------------------------------------------------


async def list_mine(
    db: AsyncSession, user_id: uuid.UUID, *, unread: bool, params: PageParams
) -> Page[NotificationOut]:
    items, total = await repository.page_of(db, user_id, unread=unread, params=params)
    return Page[NotificationOut].of(
        [NotificationOut.model_validate(n) for n in items], total=total, params=params
    )


async def unread_count(db: AsyncSession, user_id: uuid.UUID) -> UnreadCount:
    return UnreadCount(unread=await repository.unread_count(db, user_id))


async def mark_read(
    db: AsyncSession, user_id: uuid.UUID, notification_id: uuid.UUID
) -> NotificationOut:
    notification = await repository.get_mine(db, user_id, notification_id)
    if notification is None:
        raise NotificationNotFound("No such notification.")
    if notification.read_at is None:
        notification.read_at = utcnow()
    return NotificationOut.model_validate(notification)


async def mark_all_read(db: AsyncSession, user_id: uuid.UUID) -> MarkedRead:
    return MarkedRead(marked=await repository.mark_all_read(db, user_id, utcnow()))


# -- preferences -------------------------------------------------------------------------------


async def preferences(db: AsyncSession, user_id: uuid.UUID) -> PreferencesOut:
    stored = {
        (p.category, p.channel): p.enabled for p in await repository.preferences_of(db, user_id)
    }
    return PreferencesOut(
        preferences=[
            Preference(
                category=category,
                channel=channel.value,
                enabled=stored.get((category.value, channel.value), default),
            )
            for category, channels in DEFAULT_PREFERENCES.items()
            for channel, default in channels.items()
        ],
        always_sent=[
            AlwaysSent(event=spec.name, category=spec.category)
            for spec in EVENTS.values()
            if spec.mandatory
        ],
    )


async def update_preferences(
    db: AsyncSession, user_id: uuid.UUID, update: PreferencesUpdate
) -> PreferencesOut:
    for choice in update.preferences:
        await repository.set_preference(
            db, user_id, choice.category.value, choice.channel, choice.enabled
        )
    await db.flush()
    return await preferences(db, user_id)


# -- templates ---------------------------------------------------------------------------------


def _template_out(
    spec: EventSpec, channel: Channel, locale: str, row: NotificationTemplate | None
) -> TemplateOut:
    default = spec.templates.get(channel)
    subject = row.subject if row else (default.subject if default else None)
    body = row.body if row else (default.body if default else "")
    return TemplateOut(
        event=spec.name,
        channel=channel,
        locale=locale,
        subject=subject,
        body=body,
        customised=row is not None,
        variables=sorted(spec.variables),
        updated_at=row.updated_at if row else None,
    )


async def list_templates(db: AsyncSession) -> list[TemplateOut]:
    overrides = {(o.event, o.channel, o.locale): o for o in await repository.overrides_of(db)}
    keys = {(e, c.value, DEFAULT_LOCALE) for e, spec in EVENTS.items() for c in spec.templates}
    keys |= {k for k in overrides if k[0] in EVENTS}
    return [
        _template_out(
            EVENTS[event], Channel(channel), locale, overrides.get((event, channel, locale))
        )
        for event, channel, locale in sorted(keys)
    ]


async def get_template(db: AsyncSession, event: str, channel: Channel, locale: str) -> TemplateOut:
    spec = EVENTS.get(event)
    if spec is None:
        raise TemplateNotFound(f"No event {event!r}.")
    row = await repository.override(db, event, channel.value, locale)
    if row is None and (channel not in spec.templates or locale != DEFAULT_LOCALE):
        raise TemplateNotFound(f"No {channel.value} template for {event} in {locale!r}.")
    return _template_out(spec, channel, locale, row)


async def put_template(
    db: AsyncSession,
    event: str,
    channel: Channel,
    update: TemplateUpdate,
    admin_id: uuid.UUID,
) -> TemplateOut:
    """Validate against the event's variables and sample, then store the override."""
    spec = EVENTS.get(event)
    if spec is None:
        raise TemplateNotFound(f"No event {event!r}.")
    if channel == Channel.sms and update.subject is not None:
        raise TemplateInvalid("An SMS template has no subject.")
    if channel != Channel.sms and not update.subject:
        raise TemplateInvalid(f"A {channel.value} template needs a subject.")
    try:
        check(spec, update.body, update.subject)
    except TemplateProblem as exc:
        raise TemplateInvalid(
            f"The template was refused: {exc}", details={"reason": str(exc)}
        ) from exc
    row = await repository.override(db, event, channel.value, update.locale)
    if row is None:
        row = NotificationTemplate(
            id=uuid7(), event=event, channel=channel.value, locale=update.locale, body=""
        )
        db.add(row)
    row.subject, row.body, row.updated_by = update.subject, update.body, admin_id
    row.updated_at = utcnow()
    await db.flush()
    return _template_out(spec, channel, update.locale, row)
