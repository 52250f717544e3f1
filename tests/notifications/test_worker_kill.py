"""A real worker process SIGKILLed mid-send, after the provider took the message: a second worker
re-runs the job (the sweeper's lease), finds the delivery ``sending`` and never sends it again; the
other deliveries go once each."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
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
from tests.processes import running

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _env(settings: Settings, fakes: Fakes, marker: Path) -> dict[str, str]:
    return {
        **os.environ,
        "OJA_ENV": "test",
        "OJA_SECRET_KEY": settings.secret_key,
        "OJA_VAR_DIR": str(settings.app.var_dir),
        "OJA_DATABASE_URL": settings.database_url,
        "OJA_BROKER_URL": "filesystem://",
        "OJA_WORKER_IMPORTS": json.dumps(["tests.notifications.worker_stall"]),
        "OJA_SWEEPER_INTERVAL": "0.5",
        "OJA_JOB_REQUEUE_AFTER": "1",
        "OJA_JOB_LEASE_GRACE": "1",
        "OJA_JOB_RETRY_BASE_DELAY": "0",
        "OJA_EMAIL_PROVIDER": "sendgrid",
        "OJA_SENDGRID_API_KEY": fakes.sendgrid.api_key,
        "OJA_SENDGRID_BASE_URL": fakes.urls["sendgrid"],
        "OJA_SMS_PROVIDER": "twilio",
        "OJA_TWILIO_ACCOUNT_SID": fakes.twilio.account_sid,
        "OJA_TWILIO_AUTH_TOKEN": fakes.twilio.auth_token,
        "OJA_TWILIO_FROM": DEFAULT_FROM,
        "OJA_TWILIO_BASE_URL": fakes.urls["twilio"],
        "OJA_TWILIO_STATUS_CALLBACK_URL": TWILIO_CALLBACK,
        "OJA_TEST_NOTIFY_STALL_MARKER": str(marker),
        "PYTHONPATH": str(REPO),
    }


async def _wait_for(predicate: Any, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what} did not happen in {timeout:g} s\n{log.read_text()[-3000:]}")


async def test_a_worker_killed_after_the_provider_took_it_never_sends_twice(
    app: Any,
    client: httpx.AsyncClient,
    settings: Settings,
    jobs: Jobs,
    fakes: Fakes,
    tmp_path: Path,
) -> None:
    ada = await reachable(app, client)
    jobs.forward = CeleryPublisher(create_celery(settings))  # real publication, filesystem broker
    log, marker = tmp_path / "worker.log", tmp_path / "stalled"
    env = _env(settings, fakes, marker)
    await emit(app, "order.shipped", [ada], **SHIPPED)

    with running(["oja.cli", "worker", "--concurrency", "1", "--beat"], env, log) as first:

        async def stalled() -> bool:
            return marker.exists()

        await _wait_for(stalled, 90, "the first send reaching the provider", log)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    sent_before = len(fakes.sendgrid.messages) + len(fakes.twilio.messages)
    assert sent_before == 1  # the provider has the message; Oja never recorded it

    with running(["oja.cli", "worker", "--concurrency", "1", "--beat"], env, log):

        async def settled() -> bool:
            statuses = [r.status for r in await deliveries(app)]
            return len(statuses) == 2 and all(s in {"sent", "uncertain"} for s in statuses)

        await _wait_for(settled, 180, "both deliveries settling", log)
    statuses = Counter(r.status for r in await deliveries(app))
    assert statuses == {"sent": 1, "uncertain": 1}
    # Each message reached its provider exactly once: none twice, none lost.
    assert (len(fakes.sendgrid.messages), len(fakes.twilio.messages)) == (1, 1)
    page = (await client.get("/notifications", headers=ada.headers)).json()
    assert page["total"] == 1
