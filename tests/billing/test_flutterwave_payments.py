"""A Flutterwave payment end to end through Oja: initiate → hosted link → webhook (v3 or v4
signature) → inbox → job → verify through the API → paid, credited once; replays, forged or lying
bodies and misreported amounts change nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from oja.billing.models import Payment
from oja.core.clock import utcnow
from oja.core.jobs.periodic import enqueue_periodic
from oja.sandbox.flutterwave import DEFAULT_SECRET_HASH, FlutterwaveFake, hmac_signature
from oja.sandbox.paystack import PaystackFake
from tests.billing.conftest import (
    Served,
    auth,
    count,
    counts,
    new_user,
    override_settings,
    paystack_event,
    paystack_headers,
    rows,
)
from tests.conftest import Jobs

INITIATE = "/payments/flutterwave/initiate"
WEBHOOK = "/payments/flutterwave/webhook"
V3 = {"content-type": "application/json", "verif-hash": DEFAULT_SECRET_HASH}


async def start(
    client: httpx.AsyncClient, amount: int = 10050, **headers: str
) -> tuple[dict[str, str], httpx.Response]:
    user = await new_user(client)
    response = await client.post(INITIATE, json={"amount": amount}, headers=auth(user, **headers))
    return user, response


async def test_paid_through_the_webhook_once_and_replays_change_nothing(
    client: httpx.AsyncClient,
    app: Any,
    flutterwave: FlutterwaveFake,
    flutterwave_server: Served,
    jobs: Jobs,
) -> None:
    user, started = await start(client)
    assert started.status_code == 201, started.text
    reference = started.json()["reference"]
    charge = flutterwave.by_reference(reference)
    assert started.json() == {
        "reference": reference,
        "authorization_url": f"{flutterwave_server.url}/v3/hosted/pay/{charge.token}",
        "status": "pending",
        "provider_status": "pending",
        "amount": 10050,
        "currency": "NGN",
    }
    assert str(charge.amount) == "100.50"  # major units on the wire only
    assert await rows(app, "SELECT provider, amount, access_code FROM payment") == [
        ("flutterwave", 10050, "")
    ]

    flutterwave.settle(reference, "successful")
    body = flutterwave.webhook_body(charge)
    first = await client.post(WEBHOOK, content=body, headers=V3)
    assert (first.status_code, first.json()) == (200, {"status": True})
    assert await rows(app, "SELECT status FROM payment") == [("pending",)]  # a job decides
    replay = await client.post(WEBHOOK, content=body, headers=V3)
    assert replay.status_code == 200
    assert await count(app, "webhook_event") == 1
    assert len(jobs.published) == 1

    assert await jobs.run(app) == ["succeeded"]
    assert flutterwave.calls["verify"] == 1  # by Flutterwave's transaction id from the body
    assert await rows(app, "SELECT status, flag FROM payment") == [("success", None)]
    assert await rows(app, "SELECT kind, amount, currency FROM ledger_entry") == [
        ("payment", 10050, "NGN")
    ]
    assert await rows(app, "SELECT provider, status, outcome FROM webhook_event") == [
        ("flutterwave", "processed", "credited")
    ]

    # A v4 delivery of the same news (HMAC signature, new envelope) is stored, verified, changes nothing.
    v4 = json.dumps(
        {
            "id": "wbk_1",
            "type": "charge.completed",
            "timestamp": 1,
            "data": {"id": charge.id, "reference": reference, "status": "succeeded"},
        }
    ).encode()
    signed = {"flutterwave-signature": hmac_signature(DEFAULT_SECRET_HASH, v4)}
    assert (await client.post(WEBHOOK, content=v4, headers=signed)).status_code == 200
    assert await jobs.run(app) == ["succeeded"]
    assert await rows(app, "SELECT outcome FROM webhook_event ORDER BY received_at") == [
        ("credited",),
        ("unchanged",),
    ]
    assert await count(app, "ledger_entry") == 1
    status = await client.get(f"/payments/{reference}/status", headers=auth(user))
    assert status.json()["status"] == "success"


async def test_amount_mismatch_is_flagged_not_paid(
    client: httpx.AsyncClient, app: Any, flutterwave: FlutterwaveFake, jobs: Jobs
) -> None:
    user, started = await start(client)
    reference = started.json()["reference"]
    charge = flutterwave.settle(reference, "successful")
    flutterwave.misreport_next_verify(amount=100.49)
    await client.post(WEBHOOK, content=flutterwave.webhook_body(charge), headers=V3)
    await jobs.run(app)
    assert await rows(app, "SELECT status, flag FROM payment") == [("pending", "amount_mismatch")]
    assert await count(app, "ledger_entry") == 0
    flutterwave.misreport_next_verify(currency="USD")
    refreshed = await client.get(f"/payments/{reference}/status?refresh=true", headers=auth(user))
    assert refreshed.json()["flag"] == "amount_mismatch"  # a human decides, not a later verify
    assert await count(app, "ledger_entry") == 0


async def test_the_body_is_never_trusted_verify_decides(
    client: httpx.AsyncClient, app: Any, flutterwave: FlutterwaveFake, jobs: Jobs
) -> None:
    """An authentic-looking body claiming success for an unpaid charge grants nothing; a body naming
    another transaction id is caught by the reference check."""
    _, started = await start(client)
    reference = started.json()["reference"]
    charge = flutterwave.by_reference(reference)
    lie = json.dumps(
        {
            "event": "charge.completed",
            "data": {"id": charge.id, "tx_ref": reference, "status": "successful", "amount": 100.5},
        }
    ).encode()
    await client.post(WEBHOOK, content=lie, headers=V3)
    assert await jobs.run(app) == ["succeeded"]
    assert await rows(app, "SELECT status FROM payment") == [("pending",)]

    _, other = await start(client, 500)
    other_charge = flutterwave.settle(other.json()["reference"], "successful")
    swapped = json.dumps(
        {
            "event": "charge.completed",
            "data": {"id": other_charge.id, "tx_ref": reference, "status": "successful"},
        }
    ).encode()
    await client.post(WEBHOOK, content=swapped, headers=V3)
    await jobs.run(app)
    assert await rows(app, "SELECT outcome FROM webhook_event ORDER BY received_at") == [
        ("no_change",),
        ("ignored:reference_mismatch",),
    ]
    assert await count(app, "ledger_entry") == 0


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"verif-hash": "wrong"},
        {"flutterwave-signature": "wrong"},
        {"flutterwave-signature": hmac_signature("another-hash", b"{}")},
    ],
)
async def test_forged_webhooks_are_400_and_write_nothing(
    client: httpx.AsyncClient,
    app: Any,
    flutterwave: FlutterwaveFake,
    jobs: Jobs,
    headers: dict[str, str],
) -> None:
    _, started = await start(client)
    charge = flutterwave.settle(started.json()["reference"], "successful")
    before = await counts(app)
    response = await client.post(WEBHOOK, content=flutterwave.webhook_body(charge), headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"
    assert await counts(app) == before
    assert jobs.published == []


async def test_unconfigured_flutterwave_is_a_clear_503(
    client: httpx.AsyncClient, app: Any, flutterwave: FlutterwaveFake
) -> None:
    override_settings(app, flutterwave_secret_hash=None, flutterwave_secret_key=None)
    hook = await client.post(WEBHOOK, content=b"{}", headers=V3)
    assert hook.status_code == 503
    assert hook.json()["error"]["details"] == {
        "feature": "flutterwave",
        "settings": ["OJA_FLUTTERWAVE_SECRET_HASH"],
    }
    _, started = await start(client)
    assert started.status_code == 503
    assert started.json()["error"]["code"] == "not_configured"
    assert "OJA_FLUTTERWAVE_SECRET_KEY" in started.json()["error"]["message"]
    assert await count(app, "payment") == 0


async def test_provider_failures_are_translated_once(
    client: httpx.AsyncClient, app: Any, flutterwave: FlutterwaveFake, paystack: PaystackFake
) -> None:
    flutterwave.rate_limit_next(retry_after=60)
    _, limited = await start(client)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "60"
    assert limited.json()["error"] == {
        "code": "provider_rate_limited",
        "message": "Flutterwave is rate limiting this server; try again later.",
        "details": {"provider": "flutterwave", "retry_after": 60.0},
    }
    flutterwave.fail_next()
    _, down = await start(client)
    assert (down.status_code, down.json()["error"]["code"]) == (502, "provider_unavailable")
    paystack.rate_limit_next(retry_after=5)
    user = await new_user(client)
    ps = await client.post("/payments/paystack/initiate", json={"amount": 5000}, headers=auth(user))
    assert (ps.status_code, ps.headers["retry-after"]) == (429, "5")
    assert await count(app, "payment") == 0


async def test_refund_and_status_refresh_go_to_flutterwave(
    client: httpx.AsyncClient, app: Any, flutterwave: FlutterwaveFake, jobs: Jobs
) -> None:
    user, started = await start(client)
    reference = started.json()["reference"]
    flutterwave.settle(reference, "successful")
    refreshed = await client.get(f"/payments/{reference}/status?refresh=true", headers=auth(user))
    assert (refreshed.json()["status"], refreshed.json()["provider_status"]) == (
        "success",
        "success",
    )
    refund = await client.post(
        f"/payments/{reference}/refund", json={"amount": 2525}, headers=auth(user)
    )
    assert refund.status_code == 201, refund.text
    assert (refund.json()["amount"], refund.json()["amount_refunded"]) == (2525, 2525)
    assert [r["amount_refunded"] for r in flutterwave.refunds] == [25.25]
    too_much = await client.post(
        f"/payments/{reference}/refund", json={"amount": 7526}, headers=auth(user)
    )
    assert too_much.json()["error"]["code"] == "refund_not_allowed"
    assert len(flutterwave.refunds) == 1


async def test_a_paystack_event_for_a_flutterwave_payment_is_ignored(
    client: httpx.AsyncClient,
    app: Any,
    flutterwave: FlutterwaveFake,
    paystack: PaystackFake,
    jobs: Jobs,
) -> None:
    _, started = await start(client)
    reference = started.json()["reference"]
    body = paystack_event("charge.success", reference, status="success", amount=10050)
    assert (
        await client.post(
            "/payments/paystack/webhook", content=body, headers=paystack_headers(body)
        )
    ).status_code == 200
    await jobs.run(app)
    assert await rows(app, "SELECT outcome FROM webhook_event") == [("ignored:other_provider",)]
    assert paystack.calls["verify"] == 0
    assert await rows(app, "SELECT status FROM payment") == [("pending",)]


async def test_the_reconciler_verifies_a_stale_flutterwave_payment_through_flutterwave(
    client: httpx.AsyncClient,
    app: Any,
    flutterwave: FlutterwaveFake,
    paystack: PaystackFake,
    jobs: Jobs,
) -> None:
    _, started = await start(client)
    reference = started.json()["reference"]
    flutterwave.settle(reference, "successful")  # its webhook was lost
    async with app.state.runtime.database.engine.begin() as conn:
        await conn.execute(
            update(Payment)
            .where(Payment.reference == reference)
            .values(created_at=utcnow() - timedelta(hours=1))
        )
    assert await enqueue_periodic(app.state.runtime, "billing.reconcile") is True
    assert await jobs.run(app) == ["succeeded"]
    assert await rows(app, "SELECT status FROM payment") == [("success",)]
    assert await rows(app, "SELECT amount FROM ledger_entry") == [(10050,)]
    assert (flutterwave.calls["verify_by_reference"], paystack.calls["verify"]) == (1, 0)
