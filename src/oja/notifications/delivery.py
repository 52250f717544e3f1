"""Sending one delivery through its channel's adapter, at most once.

The protocol (all of it keyed by the delivery row, unique per notification × channel):

1. ``pending`` → ``sending`` in a transaction of its own, committed *before* the provider is called
   (one conditional UPDATE: two workers cannot both claim it).
2. The provider call, outside any transaction.
3. ``sending`` → ``sent`` with the provider's message id, in the job's unit of work (a batch's,
   :func:`send_each`: in a transaction of its own, before the next delivery is claimed).

A retry that finds the row ``sending`` cannot know whether the provider took the message before the
worker died, so the row becomes ``uncertain`` and nothing is sent again; a later provider callback
that names the message settles it. A refusal the provider *answered* (429, 5xx, network never
reached) returns the row to ``pending`` and the job retries with backoff; a request that went out
and got no answer is ``uncertain`` too; any other refusal is ``failed``.

Before the call, a non-mandatory delivery over the recipient's hourly limit on its channel is
``throttled`` (never sent: a hundred orders changing at once make a hundred in-app notifications,
not a hundred SMS); a marketing email gets the RFC 8058 one-click unsubscribe headers and link.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.channels.config import ChannelSettings
from oja.channels.errors import DeliveryFailed
from oja.channels.mail import create_email_sender
from oja.channels.ports import DeliveryReceipt, EmailSender, SmsSender
from oja.channels.sms import create_sms_sender
from oja.core.db import own_transaction
from oja.core.http import tls_context
from oja.core.ratelimit import Rate
from oja.core.runtime import Runtime
from oja.notifications import repository, unsubscribe
from oja.notifications.catalogue import EVENTS, MARKETING, Channel, EventSpec
from oja.notifications.config import NotificationSettings
from oja.notifications.models import DeliveryStatus
from oja.notifications.templates import as_html

log = structlog.get_logger("oja.notifications")
THROTTLED = "over the recipient's hourly limit on this channel; the in-app notification tells it"
UNCERTAIN = "the worker stopped after calling the provider; not sent again to avoid a duplicate"


class SendRetryable(Exception):
    """The provider refused for now (429, 5xx, unreachable): the job retries with backoff."""


@dataclass
class Senders:
    """The channel adapters one job sends through, opened on first use and closed together: a
    batch's deliveries share a client (and its kept-alive connection) per channel, and a client
    shares the process's TLS context (:func:`oja.core.http.tls_context`). Built per delivery,
    loading the CA bundle for each new client was most of a send job's CPU (38 of 47 ms a
    two-delivery batch, profiled)."""

    runtime: Runtime
    _email: EmailSender | None = field(default=None, init=False)
    _sms: SmsSender | None = field(default=None, init=False)

    def _transport(self) -> httpx.AsyncHTTPTransport:
        return httpx.AsyncHTTPTransport(verify=tls_context())

    def email(self) -> EmailSender:
        if self._email is None:
            settings = self.runtime.settings
            self._email = create_email_sender(
                settings.section(ChannelSettings),
                production=settings.is_production,
                transport=self._transport(),
            )
        return self._email

    def sms(self) -> SmsSender:
        if self._sms is None:
            settings = self.runtime.settings
            self._sms = create_sms_sender(
                settings.section(ChannelSettings),
                production=settings.is_production,
                transport=self._transport(),
            )
        return self._sms

    async def aclose(self) -> None:
        if self._email is not None:
            await self._email.aclose()
        if self._sms is not None:
            await self._sms.aclose()


async def send_each(
    session: AsyncSession, runtime: Runtime, delivery_ids: list[uuid.UUID]
) -> dict[str, Any]:
    """:func:`send` for each delivery in turn, each claimed and marked ``sent`` in transactions
    of its own (so what was sent stays marked whatever a later one does, and the job's own
    transaction holds no write lock a claim would wait for on SQLite); what happened to each.

    A refusal to retry later (:class:`SendRetryable`) leaves that delivery ``pending`` and the
    others go on, then fails the attempt; any other error stops the batch at once. The job's
    retry finds the sent ones ``sent`` and skips them."""
    outcomes: list[dict[str, Any]] = []
    retry: SendRetryable | None = None
    senders = Senders(runtime)
    try:
        for delivery_id in delivery_ids:
            try:
                outcomes.append(
                    await send(session, runtime, delivery_id, mark_alone=True, senders=senders)
                )
            except SendRetryable as exc:
                retry = retry or exc
    finally:
        await senders.aclose()
    if retry is not None:
        raise retry
    return {"sent": sum(bool(o["sent"]) for o in outcomes), "deliveries": outcomes}


async def send(
    session: AsyncSession,
    runtime: Runtime,
    delivery_id: uuid.UUID,
    *,
    mark_alone: bool = False,
    senders: Senders | None = None,
) -> dict[str, Any]:
    """Send the delivery if it is ``pending``; what happened, for the job's result. Marked
    ``sent`` in ``session`` (the job's unit of work), or with ``mark_alone`` in a transaction of
    its own. ``senders``: the caller's adapters (a batch's); else opened and closed here."""
    if senders is None:
        opened = Senders(runtime)
        try:
            return await send(session, runtime, delivery_id, mark_alone=mark_alone, senders=opened)
        finally:
            await opened.aclose()
    async with own_transaction(runtime.database) as claim:
        delivery = await repository.claim_delivery(claim, delivery_id)
        if delivery is None:
            status = await repository.delivery_status(claim, delivery_id)
            if status == DeliveryStatus.sending:
                await repository.move_delivery(
                    claim,
                    delivery_id,
                    from_statuses=[DeliveryStatus.sending],
                    status=DeliveryStatus.uncertain,
                    last_error=UNCERTAIN,
                )
                status = DeliveryStatus.uncertain
            return {"delivery_id": str(delivery_id), "status": status, "sent": False}
        channel, address = Channel(delivery.channel), delivery.address
        subject, body = delivery.subject, delivery.body
        user_id = delivery.user_id or delivery_id
        spec = EVENTS.get(delivery.event or "")
        # Counted once per delivery (its first attempt): a retry after a 503 is the same message.
        first = delivery.attempts == 1
        if first and spec is not None and not await _within_rate(runtime, spec, channel, user_id):
            await repository.move_delivery(
                claim,
                delivery_id,
                from_statuses=[DeliveryStatus.sending],
                status=DeliveryStatus.throttled,
                last_error=THROTTLED,
            )
            log.info("notifications.delivery.throttled", delivery_id=str(delivery_id))
            return {
                "delivery_id": str(delivery_id),
                "status": DeliveryStatus.throttled,
                "sent": False,
            }
    headers: dict[str, str] = {}
    if channel == Channel.email and spec is not None and spec.category in MARKETING:
        headers = unsubscribe.headers(
            runtime.settings.app.public_url, runtime.settings.secret_key, user_id, spec.category
        )
        link = headers["List-Unsubscribe"].strip("<>")
        body = f"{body}\n\nStop these emails with one click: {link}"
    try:
        receipt = await _call_provider(
            senders,
            channel=channel,
            address=address,
            subject=subject,
            body=body,
            reference=str(delivery_id),
            headers=headers,
        )
    except DeliveryFailed as exc:
        return await _refused(runtime, delivery_id, exc)
    if mark_alone:
        async with own_transaction(runtime.database) as own:
            await mark_sent(own, delivery_id, receipt)
    else:
        await mark_sent(session, delivery_id, receipt)
    log.info("notifications.delivery.sent", delivery_id=str(delivery_id), channel=channel.value)
    return {"delivery_id": str(delivery_id), "status": DeliveryStatus.sent, "sent": True}


async def _call_provider(
    senders: Senders,
    *,
    channel: Channel,
    address: str,
    subject: str | None,
    body: str,
    reference: str,
    headers: dict[str, str],
) -> DeliveryReceipt:
    if channel == Channel.email:
        return await senders.email().send(
            address, subject or "", body, as_html(body), reference=reference, headers=headers
        )
    return await senders.sms().send(address, body, reference=reference)


async def _within_rate(
    runtime: Runtime, spec: EventSpec, channel: Channel, user_id: uuid.UUID
) -> bool:
    """Whether the recipient's hourly budget on ``channel`` allows one more (mandatory: always)."""
    if spec.mandatory:
        return True
    settings = runtime.settings.section(NotificationSettings)
    amount = (
        settings.notification_sms_per_hour
        if channel == Channel.sms
        else settings.notification_email_per_hour
    )
    decision = await runtime.rate_limiter.hit(
        f"notifications.{channel.value}", str(user_id), Rate(amount, 3600)
    )
    return decision.allowed


async def mark_sent(
    session: AsyncSession, delivery_id: uuid.UUID, receipt: DeliveryReceipt
) -> None:
    """Record the provider's acceptance (in the job's unit of work: it commits with the job)."""
    await repository.mark_sent(session, delivery_id, receipt.provider, receipt.message_id)


async def _refused(runtime: Runtime, delivery_id: uuid.UUID, exc: DeliveryFailed) -> dict[str, Any]:
    error = exc.message[:500]
    if exc.maybe_sent:
        status = DeliveryStatus.uncertain
    elif exc.retryable:
        status = DeliveryStatus.pending
    else:
        status = DeliveryStatus.failed
    async with own_transaction(runtime.database) as session:
        await repository.move_delivery(
            session,
            delivery_id,
            from_statuses=[DeliveryStatus.sending],
            status=status,
            provider=exc.provider,
            last_error=error,
        )
    log.warning(
        "notifications.delivery.refused",
        delivery_id=str(delivery_id),
        provider=exc.provider,
        provider_status=exc.provider_status,
        outcome=status.value,
    )
    if status == DeliveryStatus.pending:
        raise SendRetryable(error) from exc
    return {"delivery_id": str(delivery_id), "status": status, "sent": False}


async def give_up(session: AsyncSession, delivery_id: uuid.UUID, error: str) -> None:
    """The send job failed for good: a ``pending`` delivery is ``failed``; one left ``sending`` (the
    worker died on the last attempt) is ``uncertain``."""
    await repository.move_delivery(
        session,
        delivery_id,
        from_statuses=[DeliveryStatus.pending],
        status=DeliveryStatus.failed,
        last_error=error[:500],
    )
    await repository.move_delivery(
        session,
        delivery_id,
        from_statuses=[DeliveryStatus.sending],
        status=DeliveryStatus.uncertain,
        last_error=UNCERTAIN,
    )
