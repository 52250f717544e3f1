"""A real worker process SIGKILLed during checkout confirmation, on PostgreSQL: the webhook job has
verified the payment at the Paystack fake, paid the group, confirmed its store orders and booked the
sale, all inside its open transaction, when the worker dies. A second worker re-runs the job (the
job table's lease and sweeper) and the paid groups come out confirmed exactly once: one paid move
per group, one confirmation per store order, one ledger booking per payment, stock moved only by
the checkouts — and ``oja reconcile`` finds the marketplace consistent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from oja.core.config import Settings
from oja.core.jobs.celery_app import CeleryPublisher, create_celery
from oja.sandbox import paystack as paystack_fake
from oja.sandbox.paystack import PaystackFake
from tests.billing.conftest import paystack_headers
from tests.conftest import Jobs
from tests.processes import (
    chaos_worker_env,
    kill_at_marker,
    lapse_lease,
    reconciled,
    running,
    wait_until,
)

from .conftest import admin, count, person, rows
from .shop import WEBHOOK, Served, add, checkout, new_key, paystack, paystack_server, settings, shop

__all__ = ["paystack", "paystack_server", "settings"]

pytestmark = pytest.mark.slow
BUYERS = 3
WORKER = ["oja.cli", "worker", "--concurrency", "1", "--beat"]


def _env(settings: Settings, served: Served, marker: Path) -> dict[str, str]:
    env = chaos_worker_env(settings.database_url, settings, ["tests.marketplace.confirm_stall"])
    env.update(
        OJA_PAYSTACK_BASE_URL=served.url,
        OJA_PAYSTACK_SECRET_KEY=paystack_fake.DEFAULT_SECRET_KEY,
        OJA_TEST_CONFIRM_STALL_MARKER=str(marker),
    )
    return env


async def _stocks(app: Any) -> dict[str, int]:
    return dict(await rows(app, "SELECT sku, stock FROM product_variant"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_worker_killed_mid_confirmation_confirms_every_paid_group_once(
    app: Any,
    client: httpx.AsyncClient,
    settings: Settings,
    jobs: Jobs,
    paystack: PaystackFake,
    paystack_server: Served,
    tmp_path: Path,
) -> None:
    boss = await admin(app, client)
    wraps = await shop(app, client, "Adire", [{"sku": "WRAP", "price": 1_500_000, "stock": 10}])
    beads = await shop(
        app, client, "Beads", [{"sku": "BEAD", "price": 850_000, "stock": 10}], boss=boss
    )
    references = []
    for _ in range(BUYERS):  # three buyers, each a two-store cart: 3 groups, 6 store orders
        buyer = await person(client)
        assert (await add(client, buyer, wraps.variant()["id"])).status_code == 201
        assert (await add(client, buyer, beads.variant()["id"], 2)).status_code == 201
        placed = await checkout(client, buyer, new_key())
        assert placed.status_code == 201, placed.text
        references.append(placed.json()["payment"]["reference"])
    movements = await count(app, "stock_movement")
    reserved = await count(app, "stock_movement", "reason = 'checkout'")
    assert (reserved, await _stocks(app)) == (2 * BUYERS, {"WRAP": 7, "BEAD": 4})

    jobs.forward = CeleryPublisher(create_celery(settings))  # real publication, filesystem broker
    log, marker = tmp_path / "worker.log", tmp_path / "stalled"
    env = _env(settings, paystack_server, marker)
    for reference in references:  # each buyer pays; the fake's charge.success reaches the inbox
        body = paystack.webhook_body("charge.success", paystack.settle(reference, "success"))
        answer = await client.post(WEBHOOK, content=body, headers=paystack_headers(body))
        assert answer.status_code == 200, answer.text

    async def paid_groups() -> list[str]:
        return [s for (s,) in await rows(app, "SELECT status FROM order_group") if s == "paid"]

    with running(WORKER, env, log) as first:
        await kill_at_marker(first, marker, log, "a confirmation applied and not committed")
    # Everything the killed job wrote died with its transaction: nothing paid, booked or moved.
    assert await paid_groups() == []
    assert await count(app, "order_transition", "to_status = 'confirmed'") == 0
    assert await count(app, "ledger_transaction") == 0
    assert await lapse_lease(app, "billing.process_webhook_event") == 1

    with running(WORKER, env, log):

        async def settled() -> bool:
            unprocessed = await count(app, "webhook_event", "status = 'received'")
            return len(await paid_groups()) == BUYERS and unprocessed == 0

        await wait_until(settled, 180, "every paid group confirmed", log)
        # The kill left the job to the sweeper: it ran twice, its effect is recorded once.
        attempts = await rows(
            app, "SELECT attempts FROM job WHERE kind = 'billing.process_webhook_event'"
        )
        assert sorted(a for (a,) in attempts) == [1, 1, 2]

    assert await rows(app, "SELECT status, count(*) FROM webhook_event GROUP BY status") == [
        ("processed", BUYERS)
    ]
    assert await rows(app, "SELECT status, count(*) FROM payment GROUP BY status") == [
        ("success", BUYERS)
    ]
    # Each store order confirmed once, by the payment; each payment booked once.
    assert await rows(
        app,
        "SELECT note, count(*) FROM order_transition WHERE to_status = 'confirmed' GROUP BY note",
    ) == [("payment verified", 2 * BUYERS)]
    assert await count(app, "store_order", "status = 'confirmed'") == 2 * BUYERS
    booked = [
        s
        for (s,) in await rows(app, "SELECT source FROM ledger_transaction WHERE kind = 'payment'")
    ]
    assert len(set(booked)) == len(booked) == BUYERS
    assert all(any(r in source for r in references) for source in booked)
    # Stock was reserved at checkout and never moved again.
    assert (await count(app, "stock_movement"), await _stocks(app)) == (
        movements,
        {"WRAP": 7, "BEAD": 4},
    )
    checks = {r.split()[0]: r.split()[1] for r in reconciled(env).splitlines()[2:] if r.strip()}
    assert (checks["stock"], checks["orders"], checks["ledger"]) == ("ok", "ok", "ok")
