"""Notification test helpers: the SendGrid and Twilio fakes over real HTTP, an app wired to them,
people with an email and a mobile number, and emitting an event in a unit of work."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text, update

from oja.core import events
from oja.core.clock import utcnow
from oja.core.db import unit_of_work
from oja.core.jobs import Job
from oja.core.runtime import running
from oja.identity.models import User
from oja.notifications.models import Notification, NotificationDelivery
from oja.sandbox.sendgrid import SendGridFake
from oja.sandbox.server import SandboxServer
from oja.sandbox.twilio import DEFAULT_FROM, TwilioFake
from tests.conftest import use_settings
from tests.marketplace.conftest import Person, person

TWILIO_CALLBACK = "http://testserver/notifications/callbacks/twilio"
SENDGRID_CALLBACK = "http://testserver/notifications/callbacks/sendgrid"


class Fakes:
    def __init__(self, sendgrid: SendGridFake, twilio: TwilioFake, urls: dict[str, str]) -> None:
        self.sendgrid = sendgrid
        self.twilio = twilio
        self.urls = urls


@pytest.fixture(scope="module")
def provider_fakes() -> Iterator[Fakes]:
    sendgrid, twilio = SendGridFake(webhook_url=SENDGRID_CALLBACK), TwilioFake()
    with SandboxServer(sendgrid.app) as sg, SandboxServer(twilio.app) as tw:
        yield Fakes(sendgrid, twilio, {"sendgrid": sg.url, "twilio": tw.url})


@pytest.fixture
def fakes(provider_fakes: Fakes, app: Any) -> Fakes:
    """The fakes, emptied, and the app sending through them (job retries without waiting)."""
    provider_fakes.sendgrid.reset()
    provider_fakes.twilio.reset()
    use_settings(
        app,
        email_provider="sendgrid",
        sendgrid_api_key=provider_fakes.sendgrid.api_key,
        sendgrid_base_url=provider_fakes.urls["sendgrid"],
        sendgrid_webhook_public_key=provider_fakes.sendgrid.public_key,
        sms_provider="twilio",
        twilio_account_sid=provider_fakes.twilio.account_sid,
        twilio_auth_token=provider_fakes.twilio.auth_token,
        twilio_from=DEFAULT_FROM,
        twilio_base_url=provider_fakes.urls["twilio"],
        twilio_status_callback_url=TWILIO_CALLBACK,
        job_retry_base_delay=0.0,
    )
    return provider_fakes


_numbers = iter(range(10_000_000, 99_999_999))


async def reachable(app: Any, client: httpx.AsyncClient, name: str | None = "Ada") -> Person:
    """A buyer with an email address and a mobile number."""
    someone = await person(client)
    mobile = f"+23480{next(_numbers)}"
    async with app.state.runtime.database.engine.begin() as conn:
        await conn.execute(
            update(User).where(User.id == uuid.UUID(someone.id)).values(mobile=mobile, name=name)
        )
    someone.mobile = mobile  # type: ignore[attr-defined]
    return someone


async def emit(app: Any, event: str, recipients: list[Person], **data: Any) -> None:
    """Emit ``event`` inside a unit of work, as a module's service would."""
    runtime = app.state.runtime
    with running(runtime):
        async with unit_of_work(runtime.database):
            await events.emit(event, recipient_ids=[uuid.UUID(p.id) for p in recipients], **data)


SHIPPED = {
    "order_id": "0192f0c1-0000-7000-8000-00000000aaaa",
    "order_number": "OJA-20001",
    "carrier": "GIG Logistics",
    "tracking_number": "GIG777",
}


async def deliveries(app: Any) -> list[Any]:
    async with app.state.runtime.database.engine.connect() as conn:
        result = await conn.execute(
            text(
                "SELECT d.channel, d.status, d.address, d.subject, d.body, d.attempts, d.provider, "
                "d.provider_message_id, d.provider_status, n.user_id, d.id FROM notification_delivery d "
                "JOIN notification n ON n.id = d.notification_id ORDER BY d.channel"
            )
        )
        return list(result.all())


async def release_deferred(app: Any, jobs: Any, kind: str = "notifications.send_deliveries") -> int:
    """Make ``kind``'s queued jobs due now (as the clock reaching their start would) and hand them
    to ``jobs`` again; how many."""
    async with app.state.runtime.database.engine.begin() as conn:
        result = await conn.execute(
            text("SELECT id FROM job WHERE kind = :kind AND status = 'queued'"), {"kind": kind}
        )
        ids = [uuid.UUID(str(r[0])) for r in result.all()]
        await conn.execute(
            update(Job).where(Job.id.in_(ids)).values(run_after=utcnow() - timedelta(seconds=1))
        )
    for job_id in ids:
        jobs.task_names[job_id] = f"oja.job.{kind}"
        jobs.published.append(job_id)
    return len(ids)


PROMOTION = {
    "product_id": "0192f0c1-0000-7000-8000-00000000bbbb",
    "product_title": "Jollof rice",
    "store_name": "Mama Put Foods",
    "price_amount": 250000,
    "currency": "NGN",
}


async def deliveries_of(app: Any, person: Person) -> list[Any]:
    """``person``'s deliveries (channel, status, send_after, digest_id, id), oldest first."""
    query = (
        select(
            NotificationDelivery.channel,
            NotificationDelivery.status,
            NotificationDelivery.send_after,
            NotificationDelivery.digest_id,
            NotificationDelivery.id,
        )
        .join(Notification, Notification.id == NotificationDelivery.notification_id)
        .where(Notification.user_id == uuid.UUID(person.id))
        .order_by(NotificationDelivery.created_at, NotificationDelivery.id)
    )
    async with app.state.runtime.database.engine.connect() as conn:
        return list((await conn.execute(query)).all())
