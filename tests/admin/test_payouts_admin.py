"""The operator UI's payout and dispute actions over HTTP: a failed payout retried, a store's payouts
held and released with a reason, a payout waiting for its OTP finalized (a wrong or malformed OTP
changes nothing, a replay reaches no provider), a dispute's evidence sent — each through the
service the ``/admin`` JSON route calls, against the Paystack fake."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from oja.core.db import unit_of_work
from oja.marketplace.ledger.models import Dispute, DisputeStatus
from oja.marketplace.payouts.models import PayoutHold, PayoutLog
from oja.sandbox.paystack import SANDBOX_OTP, PaystackFake
from oja.sandbox.paystack_records import DisputeRecord, Transaction
from tests.admin.marketplace_kit import add_order, all_of, get
from tests.marketplace.conftest import person
from tests.marketplace.payouts_kit import (
    failed_payout,
    log_of,
    otp_payout,
    paid_store,
    payouts,
)
from tests.marketplace.shop import paystack, paystack_server, settings

__all__ = ["paystack", "paystack_server", "settings"]

pytestmark = pytest.mark.usefixtures("admin_user")


async def toast(client: httpx.AsyncClient, response: httpx.Response) -> str:
    assert response.status_code == 302, response.text
    return (await client.get(response.headers["location"])).text


async def statuses(app: Any, vendor_id: str) -> list[tuple[str, str]]:
    return [(reference, status) for reference, _, status in await payouts(app, vendor_id)]


async def test_a_failed_payout_is_retried_and_a_store_held_and_released(
    admin_client: httpx.AsyncClient, app: Any, paystack: PaystackFake, admin_user: dict[str, Any]
) -> None:
    store, _ = await paid_store(app, admin_client, paystack, "Retry Row")
    payout_id = await failed_payout(app, store.id, 150_000)
    ((reference, _),) = await statuses(app, store.id)

    # From another site: refused, nothing retried.
    crossed = await admin_client.get(
        "/admin/payout/action/retry",
        params={"pks": payout_id},
        headers={"sec-fetch-site": "cross-site"},
    )
    assert crossed.status_code == 403
    assert await statuses(app, store.id) == [(reference, "failed")]

    retried = await admin_client.get("/admin/payout/action/retry", params={"pks": payout_id})
    assert "Retried 1 of 1 selected." in await toast(admin_client, retried)
    assert await statuses(app, store.id) == [(reference, "failed"), (f"{reference}-r1", "pending")]
    (actor,) = await all_of(app, select(PayoutLog.actor_id).where(PayoutLog.action == "retry"))
    assert actor == uuid.UUID(admin_user["id"])
    again = await admin_client.get("/admin/payout/action/retry", params={"pks": payout_id})
    page = await toast(admin_client, again)
    assert "Retried 0 of 1 selected." in page
    assert "This payout was retried already" in page
    assert len(await statuses(app, store.id)) == 2

    form = await admin_client.get("/admin/vendor/action/payout-hold", params={"pks": store.id})
    assert form.status_code == 200
    assert 'action="http://testserver/admin/vendor/decide/payout-hold"' in form.text
    blank = await admin_client.post(
        "/admin/vendor/decide/payout-hold", data={"pks": store.id, "reason": "  "}
    )
    assert "A payout hold or release needs a reason." in await toast(admin_client, blank)
    held = await admin_client.post(
        "/admin/vendor/decide/payout-hold", data={"pks": store.id, "reason": "Chargebacks"}
    )
    assert "Held payouts of 1 of 1 selected." in await toast(admin_client, held)
    hold = (await all_of(app, select(PayoutHold)))[0]
    assert (hold.held, hold.reason) == (True, "Chargebacks")
    released = await admin_client.post(
        "/admin/vendor/decide/payout-release", data={"pks": store.id, "reason": "Cleared"}
    )
    assert "Released payouts of 1 of 1 selected." in await toast(admin_client, released)
    assert (await log_of(app, store.id))[-3:] == [
        ("retry", None),
        ("hold", "Chargebacks"),
        ("release", "Cleared"),
    ]


async def test_an_otp_payout_is_finalized_once_from_the_admin(
    admin_client: httpx.AsyncClient, app: Any, paystack: PaystackFake
) -> None:
    store, _ = await paid_store(app, admin_client, paystack, "Otp Row")
    payout_id = await otp_payout(app, paystack, store.id, 150_000)
    ((reference, _),) = await statuses(app, store.id)

    form = await admin_client.get("/admin/payout/action/finalize", params={"pks": payout_id})
    assert form.status_code == 200
    assert 'name="otp"' in form.text
    assert 'action="http://testserver/admin/payout/decide/finalize"' in form.text
    two = await admin_client.get(
        "/admin/payout/action/finalize", params={"pks": f"{payout_id},{uuid.uuid4()}"}
    )
    assert "Select exactly one payout waiting for its OTP." in await toast(admin_client, two)

    async def finalize(otp: str) -> str:
        posted = await admin_client.post(
            "/admin/payout/decide/finalize", data={"pks": payout_id, "otp": otp}
        )
        return await toast(admin_client, posted)

    malformed = await finalize("12")
    assert "Not finalized: otp: String should match pattern" in malformed
    wrong = await finalize("000000")
    assert "Not finalized: The provider refused this OTP" in wrong
    assert await statuses(app, store.id) == [(reference, "otp_required")]
    assert paystack.transfers[reference].status == "otp"
    assert paystack.calls["transfer.finalize"] == 1  # the malformed one never left

    assert "Finalized: the payout is processing." in await finalize(SANDBOX_OTP)
    assert "Not finalized: A processing payout is not waiting for an OTP." in await finalize(
        SANDBOX_OTP
    )
    assert paystack.calls["transfer.finalize"] == 2
    assert list(paystack.transfers) == [reference]
    assert paystack.transfers[reference].status == "success"
    assert [a for a, _ in await log_of(app, store.id)][-1] == "otp_finalized"


async def test_dispute_evidence_is_sent_from_the_admin(
    admin_client: httpx.AsyncClient, app: Any, paystack: PaystackFake
) -> None:
    buyer = await person(admin_client)
    store, _ = await paid_store(app, admin_client, paystack, "Evidence Row")
    ids = await add_order(app, uuid.UUID(store.id), buyer.id)
    reference = f"oja_dispute_{uuid.uuid4().hex[:12]}"
    tx = Transaction(1, reference, "acc", 2500100, "NGN", "ada@example.com", {}, None, "success")
    record = DisputeRecord(777_001, tx, tx.amount)
    paystack.transactions[reference], paystack.disputes[record.id] = tx, record
    async with unit_of_work(app.state.runtime.database) as db:
        dispute = Dispute(
            provider="paystack",
            provider_dispute_id=str(record.id),
            reference=reference,
            group_id=ids["group"],
            status=DisputeStatus.open,
            provider_status="awaiting-merchant-feedback",
            amount=2500100,
            currency="NGN",
        )
        db.add(dispute)
    form = await admin_client.get("/admin/dispute/action/evidence", params={"pks": dispute.id})
    assert form.status_code == 200
    assert all(f'name="{n}"' in form.text for n in ("customer_email", "service_details"))

    evidence = {
        "pks": str(dispute.id),
        "customer_email": "ada@example.com",
        "customer_name": "Ada Obi",
        "customer_phone": "+2348012345678",
        "service_details": "Two pairs of sandals, delivered and signed for.",
        "delivery_address": "",
        "delivery_date": "2026-12-01",
    }
    bad = await admin_client.post(
        "/admin/dispute/decide/evidence", data={**evidence, "customer_email": "not-an-email"}
    )
    assert "Evidence not sent: customer_email:" in await toast(admin_client, bad)
    assert record.evidence is None
    assert (await get(app, Dispute, dispute.id)).evidence_id is None

    sent = await admin_client.post("/admin/dispute/decide/evidence", data=evidence)
    assert "Evidence sent to the provider." in await toast(admin_client, sent)
    assert record.evidence is not None
    assert record.evidence["service_details"] == evidence["service_details"]
    assert "delivery_address" not in record.evidence or not record.evidence["delivery_address"]
    row = await get(app, Dispute, dispute.id)
    assert row.evidence_id == str(record.evidence["id"])
