"""The periodic reconciliation: stale pending payments verified, subscriptions re-synced, drift counted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from oja.billing.metrics import RECONCILE_DRIFT
from oja.billing.models import Payment
from oja.core.clock import utcnow
from oja.core.jobs.celery_app import create_celery, register_tasks
from oja.core.jobs.periodic import enqueue_periodic
from oja.job_modules import job_registry
from oja.sandbox.paystack import PaystackFake
from oja.sandbox.stripe import StripeFake
from tests.billing.conftest import auth, count, initiate, new_user, rows
from tests.billing.test_subscriptions import subscribed
from tests.conftest import Jobs


async def test_reconcile_verifies_stale_payments_and_resyncs_subscriptions(
    client: httpx.AsyncClient, app: Any, paystack: PaystackFake, stripe: StripeFake, jobs: Jobs
) -> None:
    user = await new_user(client)
    stale_ref = (await initiate(client, user, 4000)).json()["reference"]
    fresh_ref = (await initiate(client, user, 4000)).json()["reference"]
    paystack.settle(stale_ref, "success")  # its webhook was lost
    paystack.settle(fresh_ref, "success")
    async with app.state.runtime.database.engine.begin() as conn:
        await conn.execute(
            update(Payment)
            .where(Payment.reference == stale_ref)
            .values(created_at=utcnow() - timedelta(hours=1))
        )
    subscriber, subscription_id, _ = await subscribed(client, app, stripe, jobs)
    stripe.set_subscription(subscription_id, status="past_due")  # its webhook was lost too

    before = RECONCILE_DRIFT.labels(kind="payment")._value.get()
    runtime = app.state.runtime
    assert await enqueue_periodic(runtime, "billing.reconcile") is True
    assert (
        await enqueue_periodic(runtime, "billing.reconcile") is False
    )  # same interval: deduplicated
    assert await jobs.run(app) == ["succeeded"]
    result = (await rows(app, "SELECT result FROM job WHERE kind = 'billing.reconcile'"))[0][0]
    assert '"payments_drifted": 1' in str(result).replace("'", '"')
    assert RECONCILE_DRIFT.labels(kind="payment")._value.get() == before + 1
    statuses = dict(await rows(app, "SELECT reference, status FROM payment"))
    assert statuses == {stale_ref: "success", fresh_ref: "pending"}
    assert await count(app, "ledger_entry") == 1
    assert await rows(app, "SELECT status FROM subscription") == [("past_due",)]
    tier = (await client.get("/subscription/status", headers=auth(subscriber))).json()["tier"]
    assert tier == "basic"


def test_reconcile_is_on_the_beat_schedule(settings: Any) -> None:
    registry = job_registry()
    definition = registry.get("billing.reconcile")
    assert definition is not None
    assert definition.periodic == 300.0
    celery = create_celery(settings)
    register_tasks(celery, registry, 300, run_in_process=lambda work: None)
    entry = celery.conf.beat_schedule["oja-periodic-billing.reconcile"]
    assert (entry["schedule"], entry["args"]) == (300.0, ["billing.reconcile"])
