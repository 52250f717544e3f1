"""The payout and dispute actions of the admin in headless Chromium (the style and fixtures of
``test_browser.py``): a failed payout retried, the OTP form (a payout not waiting for one is
refused and shown why), a store's payouts held with a reason, the dispute evidence form. Leaves
``test-artifacts/admin-<step>.png`` for each."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from oja.core.clock import utcnow
from oja.core.db import Database, unit_of_work
from oja.marketplace.ledger.models import Dispute, DisputeStatus
from oja.marketplace.payouts import transfers
from oja.marketplace.payouts.models import (
    AccountStatus,
    Payout,
    PayoutAccount,
    PayoutHold,
    PayoutStatus,
)
from tests.admin.test_browser import (
    TIMEOUT,
    _shoot,
    browser,
    select_list_row,
    server,
    shown_toast,
    sign_in,
)
from tests.marketplace.payouts_kit import credit_in

__all__ = ["browser", "server"]


async def _seed(url: str) -> dict[str, uuid.UUID]:
    """An approved store with an active payout account, a failed payout of NGN 1,500 (its money
    back in the store's available balance) and an open dispute on one of its orders."""
    from oja.core.jobs.outbox import Outbox, unwired
    from oja.identity.models import User
    from oja.job_modules import job_registry
    from oja.marketplace.vendors.models import Vendor, VendorMember
    from tests.admin.marketplace_kit import add_order

    database = Database(url)
    # The failed payout's move notifies its store (a job row): a bare Database has no outbox.
    # Unwired, the row waits for the server's sweeper; this test reads pages, not deliveries.
    Outbox(job_registry(), unwired, default_max_attempts=5).install(database)
    try:
        async with unit_of_work(database) as db:
            owner, buyer = User(email="payout-owner@example.com"), User(email="payer@example.com")
            vendor = Vendor(name="Aso Oke House", slug="aso-oke-house", status="approved")
            db.add_all([owner, buyer, vendor])
            await db.flush()
            db.add(VendorMember(vendor_id=vendor.id, user_id=owner.id, role="owner"))
            account = PayoutAccount(
                vendor_id=vendor.id,
                provider="paystack",
                bank_code="058",
                account_number="0123456789",
                account_name="ASO OKE HOUSE",
                recipient_code="RCP_browser",
                currency="NGN",
                name_matched=True,
                status=AccountStatus.active,
                activated_at=utcnow(),
            )
            db.add(account)
            await db.flush()
            now = utcnow()
            payout = Payout(
                id=uuid.uuid4(),
                vendor_id=vendor.id,
                reference=transfers.reference_for(vendor.id, now.date(), 1),
                currency="NGN",
                amount=150_000,
                status=PayoutStatus.pending,
                provider="paystack",
                account_id=account.id,
                recipient_code=account.recipient_code,
                run_date=now.date(),
            )
            await credit_in(db, str(vendor.id), 150_000)
            await transfers.book(db, payout)
            await transfers.move_to(db, payout, PayoutStatus.failed, None, "Account closed")
        ids = await add_order(database, vendor.id, str(buyer.id))
        async with unit_of_work(database) as db:
            dispute = Dispute(
                provider="paystack",
                provider_dispute_id="dsp_browser_1",
                reference="oja_dispute_browser",
                group_id=ids["group"],
                status=DisputeStatus.open,
                provider_status="awaiting-merchant-feedback",
                amount=2500100,
                currency="NGN",
            )
            db.add(dispute)
        return {"vendor": vendor.id, "payout": payout.id, "dispute": dispute.id}
    finally:
        await database.dispose()


async def _state(url: str, vendor_id: uuid.UUID) -> tuple[list[str], PayoutHold | None]:
    from sqlalchemy import select

    database = Database(url)
    try:
        async with database.sessionmaker() as db:
            references = (
                await db.scalars(
                    select(Payout.reference)
                    .where(Payout.vendor_id == vendor_id)
                    .order_by(Payout.created_at)
                )
            ).all()
            hold = await db.scalar(select(PayoutHold).where(PayoutHold.vendor_id == vendor_id))
            return list(references), hold
    finally:
        await database.dispose()


def test_an_operator_retries_holds_and_answers_disputes_from_the_admin(
    server: dict[str, Any], browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, TIMEOUT)
    base = server["base"]
    ids = asyncio.run(_seed(server["url"]))

    sign_in(browser, base)

    # Retry the failed payout: confirmed first, then a new payout under <reference>-r1.
    browser.get(f"{base}/admin/payout/list")
    select_list_row(browser, ids["payout"])
    wait.until(ec.element_to_be_clickable((By.ID, "action-customconfirm-retry"))).click()
    wait.until(ec.element_to_be_clickable((By.ID, "action-custom-modal-retry"))).click()
    assert shown_toast(browser) == "Retried 1 of 1 selected."
    _shoot(browser, "payout-retry")
    references, _ = asyncio.run(_state(server["url"], ids["vendor"]))
    assert references == [references[0], f"{references[0]}-r1"]

    # The OTP form; this payout waits for none: refused, and the page says why.
    select_list_row(browser, ids["payout"])
    wait.until(ec.element_to_be_clickable((By.ID, "action-custom-finalize"))).click()
    wait.until(ec.presence_of_element_located((By.ID, "otp"))).send_keys("123456")
    _shoot(browser, "payout-finalize")
    browser.find_element(By.ID, "form-submit").click()
    assert shown_toast(browser) == "Not finalized: A failed payout is not waiting for an OTP."

    # Hold the store's payouts, with a reason.
    browser.get(f"{base}/admin/vendor/list")
    select_list_row(browser, ids["vendor"])
    wait.until(ec.element_to_be_clickable((By.ID, "action-custom-payout-hold"))).click()
    wait.until(ec.presence_of_element_located((By.ID, "reason"))).send_keys("Chargebacks.")
    _shoot(browser, "vendor-payout-hold")
    browser.find_element(By.ID, "reason-submit").click()
    assert shown_toast(browser) == "Held payouts of 1 of 1 selected."
    _, hold = asyncio.run(_state(server["url"], ids["vendor"]))
    assert hold is not None
    assert (hold.held, hold.reason) == (True, "Chargebacks.")

    # The dispute's evidence form (this server has no Paystack key: refused, shown why).
    browser.get(f"{base}/admin/dispute/list")
    select_list_row(browser, ids["dispute"])
    wait.until(ec.element_to_be_clickable((By.ID, "action-custom-evidence"))).click()
    wait.until(ec.presence_of_element_located((By.ID, "customer_email"))).send_keys(
        "payer@example.com"
    )
    browser.find_element(By.ID, "customer_name").send_keys("Bisi Payer")
    browser.find_element(By.ID, "customer_phone").send_keys("+2348012345678")
    browser.find_element(By.ID, "service_details").send_keys("Two wrappers, signed for.")
    _shoot(browser, "dispute-evidence")
    browser.find_element(By.ID, "form-submit").click()
    assert shown_toast(browser).startswith("Evidence not sent: ")
