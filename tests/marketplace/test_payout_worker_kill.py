"""A real worker process SIGKILLed mid-payout, after the provider accepted the run's bulk transfer and
before Oja recorded it: a second worker re-runs the batch (the job table's lease and sweeper), sends
the same references, each is refused as a duplicate and the transfer the provider has is adopted —
exactly one transfer per payout, one ledger payout each, no money returned."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from oja.core.config import Settings
from oja.core.db import unit_of_work
from oja.core.jobs.celery_app import CeleryPublisher, create_celery
from oja.marketplace.payouts.jobs import run_payouts
from oja.sandbox import paystack as paystack_fake
from oja.sandbox.paystack import PaystackFake
from tests.conftest import Jobs
from tests.processes import running

from .conftest import count
from .payouts_kit import available, credit, paid_store, payouts
from .shop import Served, paystack, paystack_server, settings

__all__ = ["paystack", "paystack_server", "settings"]

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _env(settings: Settings, served: Served, marker: Path) -> dict[str, str]:
    return {
        **os.environ,
        "OJA_ENV": "test",
        "OJA_SECRET_KEY": settings.secret_key,
        "OJA_VAR_DIR": str(settings.app.var_dir),
        "OJA_DATABASE_URL": settings.database_url,
        "OJA_BROKER_URL": "filesystem://",
        "OJA_WORKER_IMPORTS": json.dumps(["tests.marketplace.payout_stall"]),
        "OJA_SWEEPER_INTERVAL": "0.5",
        "OJA_JOB_REQUEUE_AFTER": "1",
        "OJA_JOB_LEASE_GRACE": "1",
        "OJA_JOB_RETRY_BASE_DELAY": "0",
        "OJA_PAYSTACK_BASE_URL": served.url,
        "OJA_PAYSTACK_SECRET_KEY": paystack_fake.DEFAULT_SECRET_KEY,
        "OJA_TEST_PAYOUT_STALL_MARKER": str(marker),
        "PYTHONPATH": str(REPO),
    }


async def _wait_for(predicate: Any, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what} did not happen in {timeout:g} s\n{log.read_text()[-3000:]}")


async def test_a_payout_worker_killed_after_the_provider_accepted_pays_once(
    app: Any,
    client: httpx.AsyncClient,
    settings: Settings,
    jobs: Jobs,
    paystack: PaystackFake,
    paystack_server: Served,
    tmp_path: Path,
) -> None:
    stores = [(await paid_store(app, client, paystack, f"Killed {n}"))[0] for n in range(2)]
    for store in stores:
        await credit(app, store.id, 320_000)
    jobs.forward = CeleryPublisher(create_celery(settings))  # real publication, filesystem broker
    log, marker = tmp_path / "worker.log", tmp_path / "stalled"
    env = _env(settings, paystack_server, marker)
    async with unit_of_work(app.state.runtime.database) as db:
        run_payouts.enqueue(db)

    with running(["oja.cli", "worker", "--concurrency", "1", "--beat"], env, log) as first:

        async def stalled() -> bool:
            return marker.exists()

        await _wait_for(stalled, 90, "the first bulk transfer reaching the provider", log)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    # The provider has the batch's transfers; Oja's record of sending them died with the worker.
    assert paystack.calls["transfer.bulk"] == 1
    assert paystack.calls["transfer"] == 0
    made = await payouts(app)
    assert {p[2] for p in made} == {"pending"}
    assert set(paystack.transfers) <= {p[0] for p in made}
    assert len(paystack.transfers) >= 1

    with running(["oja.cli", "worker", "--concurrency", "1", "--beat"], env, log):

        async def settled() -> bool:
            found = await payouts(app)
            return len(found) == 2 and {p[2] for p in found} <= {"processing", "paid"}

        await _wait_for(settled, 180, "the payouts adopting the provider's transfers", log)
    made = await payouts(app)
    assert sorted(paystack.transfers) == sorted(p[0] for p in made)  # one transfer per payout
    assert [t.amount for t in paystack.transfers.values()] == [320_000, 320_000]
    for store in stores:
        assert await available(app, store.id) == 0
    assert await count(app, "ledger_transaction", "kind = 'payout'") == 2
    assert await count(app, "ledger_transaction", "source LIKE 'payout-return:%'") == 0
