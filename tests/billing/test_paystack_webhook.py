"""The Paystack webhook inbox: forged deliveries change nothing; authentic ones are stored once,
acknowledged at once, and credited only after Verify Transaction agrees on amount and currency."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from oja.core.clock import utcnow
from oja.core.jobs import Job
from oja.sandbox.paystack import PaystackFake
from tests.billing.conftest import (
    auth,
    count,
    counts,
    initiate,
    new_user,
    paystack_event,
    paystack_headers,
    rows,
)
from tests.conftest import Jobs

WEBHOOK = "/payments/paystack/webhook"


async def pending_payment(
    client: httpx.AsyncClient, paystack: PaystackFake, amount: int = 5000
) -> tuple[dict[str, str], str]:
    user = await new_user(client)
    response = await initiate(client, user, amount)
    assert response.status_code == 201
    return user, response.json()["reference"]


def flip_one_byte(body: bytes) -> bytes:
    index = body.index(b"5000")
    return body[:index] + b"9" + body[index + 1 :]


@pytest.mark.parametrize("forgery", ["missing", "wrong", "tampered", "other_secret"])
async def test_forged_webhooks_are_400_and_write_nothing(
    client: httpx.AsyncClient, app: Any, paystack: PaystackFake, jobs: Jobs, forgery: str
) -> None:
    _, reference = await pending_payment(client, paystack)
    paystack.settle(reference, "success")
    body = paystack_event("charge.success", reference, amount=5000, status="success")
    headers = paystack_headers(body)
    if forgery == "missing":
        del headers["x-paystack-signature"]
    elif forgery == "wrong":
        headers["x-paystack-signature"] = "0" * 128
    elif forgery == "tampered":
        body = flip_one_byte(body)
    else:
        headers = paystack_headers(body, secret="sk_test_someone_else")
    before = await counts(app)
    response = await client.post(WEBHOOK, content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"
    assert await counts(app) == before
    assert jobs.published == []
    assert await rows(app, "SELECT status FROM payment") == [("pending",)]


async def test_authentic_webhook_is_acknowledged_then_verified_and_credited_once(
    client: httpx.AsyncClient, app: Any, paystack: PaystackFake, jobs: Jobs
) -> None:
    user, reference = await pending_payment(client, paystack)
    paystack.settle(reference, "success")
    body = paystack_fake_body(paystack, reference)
    first = await client.post(WEBHOOK, content=body, headers=paystack_headers(body))
    assert first.status_code == 200
    assert first.json() == {"status": True}
    assert await rows(app, "SELECT status FROM payment") == [("pending",)]  # not yet: a job does it
    assert await count(app, "webhook_event") == 1
    assert len(jobs.published) == 1

    replay = await client.post(WEBHOOK, content=body, headers=paystack_headers(body))
    assert replay.status_code == 200
    assert await count(app, "webhook_event") == 1
    assert len(jobs.published) == 1

    assert await jobs.run(app) == ["succeeded"]
    assert paystack.calls["verify"] == 1
    status = await client.get(f"/payments/{reference}/status", headers=auth(user))
    assert status.json()["status"] == "success"
    assert await rows(app, "SELECT kind, amount, currency FROM ledger_entry") == [
        ("payment", 5000, "NGN")
    ]
    assert await rows(app, "SELECT status, outcome FROM webhook_event") == [
        ("processed", "credited")
    ]


def paystack_fake_body(paystack: PaystackFake, reference: str) -> bytes:
    return paystack.webhook_body("charge.success", paystack.transactions[reference])


async def test_webhook_claims_are_not_trusted_verify_decides(
    client: httpx.AsyncClient, app: Any, paystack: PaystackFake, jobs: Jobs
) -> None:
    """A signed charge.success for a transaction Paystack says is unpaid grants nothing."""
    _, reference = await pending_payment(client, paystack)
    body = paystack_event("charge.success", reference, amount=5000, status="success")
    assert (
        await client.post(WEBHOOK, content=body, headers=paystack_headers(body))
    ).status_code == 200
    await jobs.run(app)
    assert await rows(app, "SELECT status FROM payment") == [("abandoned",)]
    assert await count(app, "ledger_entry") == 0


async def test_verify_reporting_a_different_amount_is_flagged_not_credited(
    client: httpx.AsyncClient, app: Any, paystack: PaystackFake, jobs: Jobs
) -> None:
    user, reference = await pending_payment(client, paystack)
    paystack.settle(reference, "success")
    paystack.misreport_next_verify(50)
    body = paystack_fake_body(paystack, reference)
    await client.post(WEBHOOK, content=body, headers=paystack_headers(body))
    await jobs.run(app)
    assert await rows(app, "SELECT status, flag FROM payment") == [("pending", "amount_mismatch")]
    assert await count(app, "ledger_entry") == 0
    # A later, honest verification does not unflag it: a human decides.
    await client.get(f"/payments/{reference}/status?refresh=true", headers=auth(user))
    assert await rows(app, "SELECT status, flag FROM payment") == [("pending", "amount_mismatch")]
    assert await count(app, "ledger_entry") == 0


async def test_failed_then_late_success_and_replayed_failure_end_in_success(
    client: httpx.AsyncClient, app: Any, paystack: PaystackFake, jobs: Jobs
) -> None:
    _, reference = await pending_payment(client, paystack)
    paystack.settle(reference, "failed")
    failed = paystack.webhook_body("charge.failed", paystack.transactions[reference])
    await client.post(WEBHOOK, content=failed, headers=paystack_headers(failed))
    await jobs.run(app)
    assert await rows(app, "SELECT status FROM payment") == [("failed",)]

    paystack.transactions[reference].status = "success"  # the payer retried on the same checkout
    succeeded = paystack.webhook_body("charge.success", paystack.transactions[reference])
    await client.post(WEBHOOK, content=succeeded, headers=paystack_headers(succeeded))
    await jobs.run(app)
    assert await rows(app, "SELECT status FROM payment") == [("success",)]

    # The old failure delivered again (new body bytes, so a new inbox row) cannot downgrade it.
    late = failed.replace(b'"event"', b' "event"')
    await client.post(WEBHOOK, content=late, headers=paystack_headers(late))
    await jobs.run(app)
    assert await rows(app, "SELECT status FROM payment") == [("success",)]
    assert await count(app, "ledger_entry") == 1


async def test_unknown_reference_and_other_events_are_stored_and_ignored(
    client: httpx.AsyncClient, app: Any, paystack: PaystackFake, jobs: Jobs
) -> None:
    for body in (
        paystack_event("charge.success", "not-ours"),
        b'{"event": "transfer.success", "data": {"id": 1}}',
    ):
        assert (
            await client.post(WEBHOOK, content=body, headers=paystack_headers(body))
        ).status_code == 200
    assert await jobs.run(app) == ["succeeded", "succeeded"]
    # A transfer event goes to payouts only with a reference (this one has none).
    assert sorted(await rows(app, "SELECT status, outcome FROM webhook_event")) == [
        ("ignored", "ignored:no_reference"),
        ("ignored", "ignored:unknown_reference"),
    ]
    assert paystack.calls["verify"] == 0


async def test_provider_outage_during_processing_retries_the_job(
    client: httpx.AsyncClient, app: Any, paystack: PaystackFake, jobs: Jobs
) -> None:
    _, reference = await pending_payment(client, paystack)
    paystack.settle(reference, "success")
    body = paystack_fake_body(paystack, reference)
    await client.post(WEBHOOK, content=body, headers=paystack_headers(body))
    paystack.fail_next()
    # The first attempt fails and schedules a retry with backoff (not yet due: not claimed).
    assert await jobs.run(app) == ["retrying", "not_claimed"]
    assert await rows(app, "SELECT status FROM payment") == [("pending",)]
    async with app.state.runtime.database.engine.begin() as conn:
        await conn.execute(update(Job).values(run_after=utcnow()))
    (job_id,) = [r[0] for r in await rows(app, "SELECT id FROM job")]
    jobs.published.append(uuid.UUID(str(job_id)))
    assert await jobs.run(app) == ["succeeded"]
    assert await rows(app, "SELECT status FROM payment") == [("success",)]
    assert await count(app, "ledger_entry") == 1


async def test_fifty_concurrent_identical_deliveries_store_one_event_and_credit_once(
    client: httpx.AsyncClient, app: Any, paystack: PaystackFake, jobs: Jobs
) -> None:
    _, reference = await pending_payment(client, paystack)
    paystack.settle(reference, "success")
    body = paystack_fake_body(paystack, reference)
    answers = await asyncio.gather(
        *(client.post(WEBHOOK, content=body, headers=paystack_headers(body)) for _ in range(50))
    )
    assert [a.status_code for a in answers] == [200] * 50
    assert await count(app, "webhook_event") == 1
    assert await count(app, "job", "kind = 'billing.process_webhook_event'") == 1
    assert len(jobs.published) == 1
    await jobs.run(app)
    assert await count(app, "ledger_entry") == 1
    assert await rows(app, "SELECT status FROM payment") == [("success",)]
