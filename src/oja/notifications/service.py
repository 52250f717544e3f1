"""The notification rules: fanning an event out to its recipients, the in-app inbox, preferences
and the admins' templates. Services never commit; jobs and requests own the unit of work."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from jinja2 import TemplateError
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.ids import uuid7
from oja.core.pagination import Page, PageParams
from oja.core.runtime import Runtime
from oja.notifications import repository, unsubscribe
from oja.notifications.catalogue import (
    DEFAULT_LOCALE,
    DEFAULT_PREFERENCES,
    EVENTS,
    EXTERNAL_CHANNELS,
    MARKETING,
    Channel,
    EventSpec,
    Template,
)
from oja.notifications.config import NotificationSettings
from oja.notifications.errors import (
    NotificationNotFound,
    TemplateInvalid,
    TemplateNotFound,
    UnsubscribeTokenInvalid,
)
from oja.notifications.models import (
    DeliveryStatus,
    Notification,
    NotificationSetting,
    NotificationTemplate,
)
from oja.notifications.quiet_hours import as_minutes, as_text, quiet_until
from oja.notifications.realtime import push_in_app
from oja.notifications.repository import Recipient
from oja.notifications.schemas import (
    AlwaysSent,
    MarkedRead,
    NotificationOut,
    Preference,
    PreferencesOut,
    PreferencesUpdate,
    QuietHours,
    TemplateOut,
    TemplateUpdate,
    UnreadCount,
    Unsubscribed,
)
from oja.notifications.templates import TemplateProblem, check, render

log = structlog.get_logger("oja.notifications")
RESERVED_KEYS = frozenset({"recipient_ids", "event_id"})
"""Payload keys that address the event rather than describe it (not template data)."""


@dataclass(frozen=True, slots=True)
class Queued:
    """A delivery to send, and when (None: now; else the end of the recipient's quiet hours)."""

    id: uuid.UUID
    send_after: datetime | None


@dataclass(frozen=True, slots=True)
class FanOut:
    notifications: int
    deliveries: list[Queued]
    """Deliveries to send; ``held`` ones (waiting for the digest) are not among them."""


# -- fan-out -----------------------------------------------------------------------------------


async def fan_out(
    db: AsyncSession, event: str, event_id: uuid.UUID, payload: dict[str, Any]
) -> FanOut:
    """One in-app notification per active recipient, and one delivery per external channel the
    recipient's preferences allow (or the event makes mandatory) and an address exists for.

    A non-mandatory delivery fanned out in the recipient's quiet hours is ``pending`` with
    ``send_after`` at their end; a promotion email for a recipient who chose the digest is
    ``held`` for it. Mandatory events ignore opt-outs, quiet hours and the digest.

    Idempotent: an ``event_id`` already fanned out to a user adds nothing for that user.
    """
    spec = EVENTS.get(event)
    if spec is None:
        log.warning("notifications.event.unknown", event_name=event)
        return FanOut(0, [])
    recipient_ids = list(dict.fromkeys(uuid.UUID(str(i)) for i in payload.get("recipient_ids", [])))
    data = {k: v for k, v in payload.items() if k not in RESERVED_KEYS}
    people = await repository.recipients(db, recipient_ids)
    ids = [p.id for p in people]
    # A mandatory event ignores opt-outs, quiet hours and the digest: none of them is read.
    chosen = {} if spec.mandatory else await repository.preferences_in(db, ids, spec.category)
    settings = {} if spec.mandatory else await repository.settings_in(db, ids)
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
        setting = settings.get(person.id)
        send_after = _quiet_until(setting, now)
        for channel in _channels(spec, person, chosen.get(person.id, {})):
            text = rendered(channel, person)
            if text is None:
                continue
            held = (
                setting is not None
                and setting.promotions_digest
                and channel == Channel.email
                and spec.category in MARKETING
            )
            deliveries.append(
                {
                    "id": uuid7(),
                    "notification_id": notification_id,
                    "channel": channel.value,
                    "status": (DeliveryStatus.held if held else DeliveryStatus.pending).value,
                    "address": person.email if channel == Channel.email else person.mobile,
                    "subject": text[0][:300] if text[0] else None,
                    "body": text[1],
                    "attempts": 0,
                    "send_after": None if held else send_after,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    inserted = await repository.insert_notifications(db, notifications)
    deliveries = [d for d in deliveries if d["notification_id"] in inserted]
    delivery_ids = set(await repository.insert_deliveries(db, deliveries))
    await push_in_app(db, [Notification(**row) for row in notifications if row["id"] in inserted])
    queued = [
        Queued(d["id"], d["send_after"])
        for d in deliveries
        if d["id"] in delivery_ids and d["status"] == DeliveryStatus.pending
    ]
    return FanOut(len(inserted), queued)


def _quiet_until(setting: NotificationSetting | None, now: datetime) -> datetime | None:
    if setting is None or setting.quiet_start is None or setting.quiet_end is None:
        return None
    return quiet_until(now, setting.quiet_start, setting.quiet_end, setting.time_zone)


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
    setting = await repository.setting_of(db, user_id)
    quiet = None
    if setting is not None and setting.quiet_start is not None and setting.quiet_end is not None:
        quiet = QuietHours(
            start=as_text(setting.quiet_start),
            end=as_text(setting.quiet_end),
            time_zone=setting.time_zone,
        )
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
        quiet_hours=quiet,
        promotions_digest=setting.promotions_digest if setting is not None else False,
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
    quiet_given = "quiet_hours" in update.model_fields_set
    if quiet_given or update.promotions_digest is not None:
        setting = await repository.setting_of(db, user_id)
        if setting is None:
            setting = NotificationSetting(user_id=user_id, time_zone="UTC", promotions_digest=False)
            db.add(setting)
        if quiet_given:
            quiet = update.quiet_hours
            setting.quiet_start = as_minutes(quiet.start) if quiet else None
            setting.quiet_end = as_minutes(quiet.end) if quiet else None
            setting.time_zone = quiet.time_zone if quiet else "UTC"
        if update.promotions_digest is not None:
            setting.promotions_digest = update.promotions_digest
    await db.flush()
    return await preferences(db, user_id)


async def unsubscribe_by_token(db: AsyncSession, secret: str, token: str) -> Unsubscribed:
    """Turn off the email of the category a genuine unsubscribe token names (idempotent)."""
    found = unsubscribe.read_token(secret, token)
    if found is None or not await repository.user_exists(db, found[0]):
        raise UnsubscribeTokenInvalid("This unsubscribe link is not valid.")
    user_id, category = found
    await repository.set_preference(db, user_id, category.value, Channel.email.value, False)
    await db.flush()
    log.info("notifications.unsubscribed", user_id=str(user_id), category=category.value)
    return Unsubscribed(category=category, channel="email", enabled=False)


# -- the promotions digest ---------------------------------------------------------------------

DIGEST_USERS_PER_PASS = 500


async def build_digests(db: AsyncSession, runtime: Runtime) -> FanOut:
    """Each recipient's ``held`` emails become one: the oldest carries the digest (``pending``),
    the others are ``digested`` into it. ``notifications`` counts the emails folded."""
    most = runtime.settings.section(NotificationSettings).notification_digest_max_items
    carriers: list[Queued] = []
    folded = 0
    while users := await repository.users_with_held(db, DIGEST_USERS_PER_PASS):
        by_user: dict[uuid.UUID, list[repository.Held]] = {}
        for held in await repository.held_of(db, users):
            by_user.setdefault(held.user_id, []).append(held)
        for items in by_user.values():
            carrier = items[0]
            subject, body = _digest_text(items, most)
            if await repository.fold_into_digest(
                db, carrier.id, [h.id for h in items[1:]], subject, body
            ):
                carriers.append(Queued(carrier.id, None))
                folded += len(items)
    return FanOut(folded, carriers)


def _digest_text(items: list[repository.Held], most: int) -> tuple[str, str]:
    count = len(items)
    subject = f"Your Oja digest: {count} update{'s' if count != 1 else ''}"
    lines = [f"- {h.subject or h.body.splitlines()[0]}" for h in items[-most:]]
    if count > most:
        lines.append(f"- and {count - most} earlier")
    return subject, "Hello,\n\nWhat you missed on Oja today:\n\n" + "\n".join(lines) + "\n\n— Oja"


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
