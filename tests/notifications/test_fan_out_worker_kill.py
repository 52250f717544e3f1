"""A real worker process SIGKILLed during notification fan-out, on PostgreSQL: the fan-out job has
stored the in-app notifications and the pending deliveries of an event for several recipients,
inside its open transaction, when the worker dies. A second worker re-runs it (the sweeper's
lease) and every recipient gets each notification exactly once — in the app, by email and by SMS —
none lost and none doubled, and ``oja reconcile`` finds nothing stuck."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from oja.core.config import Settings
from oja.core.jobs.celery_app import CeleryPublisher, create_celery
from oja.sandbox.twilio import DEFAULT_FROM
from tests.conftest import Jobs
from tests.notifications.conftest import (
    SHIPPED,
    TWILIO_CALLBACK,
    Fakes,
    deliveries,
    emit,
    reachable,
)
from tests.processes import (
    chaos_worker_env,
    kill_at_marker,
    lapse_lease,
    reconciled,
    running,
    wait_until,
)

pytestmark = pytest.mark.slow
WORKER = ["oja.cli", "worker", "--concurrency", "1", "--beat"]
DELIVERED = {
    "order_id": "0192f0c1-0000-7000-8000-00000000cccc",
    "order_number": "OJA-20002",
}


def _env(settings: Settings, fakes: Fakes, marker: Path) -> dict[str, str]:
    env = chaos_worker_env(settings.database_url, settings, ["tests.notifications.fan_out_stall"])
    env.update(
        OJA_EMAIL_PROVIDER="sendgrid",
        OJA_SENDGRID_API_KEY=fakes.sendgrid.api_key,
        OJA_SENDGRID_BASE_URL=fakes.urls["sendgrid"],
        OJA_SMS_PROVIDER="twilio",
        OJA_TWILIO_ACCOUNT_SID=fakes.twilio.account_sid,
        OJA_TWILIO_AUTH_TOKEN=fakes.twilio.auth_token,
        OJA_TWILIO_FROM=DEFAULT_FROM,
        OJA_TWILIO_BASE_URL=fakes.urls["twilio"],
        OJA_TWILIO_STATUS_CALLBACK_URL=TWILIO_CALLBACK,
        OJA_TEST_FAN_OUT_STALL_MARKER=str(marker),
    )
    return env


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_worker_killed_mid_fan_out_delivers_every_notification_once(
    app: Any,
    client: httpx.AsyncClient,
    settings: Settings,
    jobs: Jobs,
    fakes: Fakes,
    tmp_path: Path,
) -> None:
    people = [await reachable(app, client, name) for name in ("Ada", "Bola", "Chidi", "Dayo")]
    jobs.forward = CeleryPublisher(create_celery(settings))  # real publication, filesystem broker
    log, marker = tmp_path / "worker.log", tmp_path / "stalled"
    env = _env(settings, fakes, marker)
    # Two events: all four hear that their order shipped, two that it was delivered.
    await emit(app, "order.shipped", people, **SHIPPED)
    await emit(app, "order.delivered", people[:2], **DELIVERED)

    with running(WORKER, env, log) as first:
        await kill_at_marker(first, marker, log, "a fan-out stored and not committed")
    # The killed fan-out had stored one event's notifications and deliveries (an email and an SMS
    # each); they died with its transaction, and no send job had been published for them.
    assert marker.read_text() in {"4 8", "2 4"}
    assert len(fakes.sendgrid.messages) + len(fakes.twilio.messages) == 0
    assert await lapse_lease(app, "notifications.deliver_events") == 1

    with running(WORKER, env, log):

        async def settled() -> bool:
            statuses = [r.status for r in await deliveries(app)]
            return len(statuses) == 12 and all(s == "sent" for s in statuses)

        await wait_until(settled, 180, "all twelve deliveries sent", log)

    rows = await deliveries(app)
    assert Counter((r.channel, r.status) for r in rows) == {
        ("email", "sent"): 6,
        ("sms", "sent"): 6,
    }
    # Each message reached its provider exactly once: one per recipient and event, none twice.
    emails = Counter(m.to for m in fakes.sendgrid.messages)
    texts = Counter(m.to for m in fakes.twilio.messages)
    assert emails == {p.email: 2 if p in people[:2] else 1 for p in people}
    assert texts == {p.mobile: 2 if p in people[:2] else 1 for p in people}  # type: ignore[attr-defined]
    for someone, expected in zip(people, (2, 2, 1, 1), strict=True):
        page = (await client.get("/notifications", headers=someone.headers)).json()
        assert page["total"] == expected
    reconciled(env)
