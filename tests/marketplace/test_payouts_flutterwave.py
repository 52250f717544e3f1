"""Payouts through Flutterwave: the account resolved and the transfer sent in major units at the
adapter's edge, ``transfer.completed`` (authenticated by ``verif-hash``) settled through the
transfer verify — a failure returns the money once, a forged delivery changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from oja.core.config import Settings
from oja.sandbox import flutterwave as flutterwave_fake
from oja.sandbox.flutterwave import FlutterwaveFake
from tests.billing.conftest import Served, flutterwave, flutterwave_server
from tests.conftest import Jobs, make_settings

from .conftest import count, rows
from .payouts_kit import available, credit, payouts, put_account, run_job
from .shop import shop

__all__ = ["flutterwave", "flutterwave_server"]
WEBHOOK = "/payments/flutterwave/webhook"


@pytest.fixture
def settings(tmp_path: Path, database_url: str, flutterwave_server: Served) -> Settings:
    return make_settings(
        tmp_path,
        database_url,
        flutterwave_base_url=flutterwave_server.url,
        flutterwave_secret_key=flutterwave_fake.DEFAULT_SECRET_KEY,
        flutterwave_secret_hash=flutterwave_fake.DEFAULT_SECRET_HASH,
        payout_provider="flutterwave",
    )


async def test_a_flutterwave_payout_fails_once_and_a_forged_completion_is_refused(
    app: Any, client: httpx.AsyncClient, flutterwave: FlutterwaveFake, jobs: Jobs
) -> None:
    store = await shop(app, client, "Mama Put Foods", [])
    flutterwave.accounts[("058", "0690000031")] = "MAMA PUT FOODS"
    answer = await put_account(client, store.owner, "0690000031")
    assert answer.status_code == 200, answer.text
    assert answer.json()["active"]["provider"] == "flutterwave"
    await credit(app, store.id, 250_050)
    await run_job(app, jobs)
    ((reference, amount, status),) = await payouts(app)
    assert (amount, status) == (250_050, "processing")
    (record,) = flutterwave.transfers.values()
    assert (record.reference, str(record.amount)) == (reference, "2500.50")  # major units
    # The transfer's fee (₦10.75, major units) booked once in kobo, the platform's expense.
    fee_sql = "SELECT amount FROM ledger_transaction WHERE source LIKE 'payout-fee{}:%'"
    assert str(record.fee) == "10.75"
    assert await rows(app, fee_sql.format("")) == [(1075,)]

    await flutterwave.settle_transfer(record.id, "FAILED")
    (sent,) = [o for o in flutterwave.webhooks.sent if o.event == "transfer.completed"]
    forged = {**sent.headers, "verif-hash": "not-the-hash"}
    refused = await client.post(WEBHOOK, content=sent.body, headers=forged)
    assert refused.status_code in (400, 401)
    await jobs.run(app)
    assert [p[2] for p in await payouts(app)] == ["processing"]
    for _ in range(2):
        delivered = await client.post(WEBHOOK, content=sent.body, headers=sent.headers)
        assert delivered.status_code == 200, delivered.text
    await jobs.run(app)
    assert await payouts(app) == [(reference, 250_050, "failed")]
    assert await available(app, store.id) == 250_050
    assert await count(app, "ledger_transaction", "source LIKE 'payout-return:%'") == 1
    # ... and given back once with the failed transfer's money.
    assert await rows(app, fee_sql.format("-return")) == [(1075,)]
    assert await rows(app, fee_sql.format("")) == [(1075,)]
