"""The Paystack adapter against the Paystack fake over real HTTP: every method's normalised result,
every failure mode's exception, and the one translation into Oja's errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import pytest

from oja.billing.errors import (
    PaymentInitiationFailed,
    ProviderError,
    ProviderRateLimited,
    ProviderRefused,
    ProviderUnavailable,
    from_provider,
)
from oja.billing.providers.paystack import (
    PaystackClient,
    PaystackRateLimited,
    PaystackRefused,
    PaystackUnavailable,
)
from oja.billing.providers.port import (
    Bank,
    BulkTransferResult,
    Dispute,
    InvalidWebhook,
    PaymentProvider,
    ProviderEvent,
    Recipient,
    RefundResult,
    ResolvedAccount,
    Split,
    Subaccount,
    TransferOrder,
    TransferResult,
)
from oja.sandbox.paystack import (
    DEFAULT_BALANCE,
    DEFAULT_SECRET_KEY,
    SANDBOX_OTP,
    PaystackFake,
    sign,
)
from tests.fakes import serving

ACCOUNT = "0123456789"
GTB = "058"


@pytest.fixture
def served() -> Iterator[tuple[PaystackFake, str]]:
    yield from serving(PaystackFake())


@pytest.fixture
async def paystack(served: tuple[PaystackFake, str]) -> AsyncIterator[PaystackClient]:
    async with PaystackClient(
        base_url=served[1], secret_key=DEFAULT_SECRET_KEY, timeout=5, retries=0
    ) as client:
        yield client


def test_the_adapter_is_a_payment_provider() -> None:
    provider: PaymentProvider = PaystackClient(base_url="http://127.0.0.1:9", secret_key="k")
    assert provider.name == "paystack"


async def test_banks_and_account_resolution(paystack: PaystackClient) -> None:
    banks = await paystack.list_banks("NG")
    assert banks[:2] == [
        Bank(code="044", name="Access Bank", country="Nigeria", currency="NGN"),
        Bank(code="011", name="First Bank of Nigeria", country="Nigeria", currency="NGN"),
    ]
    assert len(banks) == 5
    assert await paystack.list_banks("GH") == []
    assert await paystack.resolve_account(account_number=ACCOUNT, bank_code=GTB) == ResolvedAccount(
        account_number=ACCOUNT, account_name="SANDBOX ACCOUNT 6789", bank_code=GTB
    )
    with pytest.raises(PaystackRefused, match="Could not resolve account name") as refused:
        await paystack.resolve_account(account_number="0001112223", bank_code=GTB)
    assert refused.value.status_code == 422
    with pytest.raises(PaystackRefused, match="should be numeric"):
        await paystack.resolve_account(account_number="01234abcde", bank_code=GTB)


async def test_subaccounts_splits_and_split_transactions(
    served: tuple[PaystackFake, str], paystack: PaystackClient
) -> None:
    fake, _ = served
    ada = await paystack.create_subaccount(
        business_name="Ada Stores",
        bank_code=GTB,
        account_number=ACCOUNT,
        commission_percent=Decimal("12.5"),
        email="ada@example.com",
    )
    assert ada == Subaccount(
        code=ada.code,
        provider_id=ada.provider_id,
        business_name="Ada Stores",
        account_number=ACCOUNT,
        bank="Guaranty Trust Bank",  # Paystack answers the bank's name for the code sent
        commission_percent=Decimal("12.5"),
        active=True,
    )
    assert ada.code.startswith("ACCT_")
    updated = await paystack.update_subaccount(
        ada.code, commission_percent=Decimal(10), active=False
    )
    assert (updated.commission_percent, updated.active, updated.code) == (
        Decimal(10),
        False,
        ada.code,
    )
    await paystack.update_subaccount(ada.code, active=True)
    bola = await paystack.create_subaccount(
        business_name="Bola Wares",
        bank_code="057",
        account_number="9876543210",
        commission_percent=Decimal(10),
    )
    assert [s.code for s in await paystack.list_subaccounts()] == [ada.code, bola.code]

    split = await paystack.create_split(
        name="group-1",
        type="percentage",
        currency="NGN",
        shares=[(ada.code, 60), (bola.code, 30)],
        bearer_type="account",
    )
    assert split == Split(
        code=split.code,
        name="group-1",
        type="percentage",
        currency="NGN",
        shares=((ada.code, 60), (bola.code, 30)),
        bearer_type="account",
        active=True,
    )
    with pytest.raises(PaystackRefused, match="cannot exceed 100"):
        await paystack.create_split(
            name="too-much",
            type="percentage",
            currency="NGN",
            shares=[(ada.code, 60), (bola.code, 41)],
        )

    started = await paystack.initialize(
        email="buyer@example.com",
        amount=100_000,
        currency="NGN",
        reference="grp-1",
        split_code=split.code,
    )
    assert started.reference == "grp-1"
    fake.settle("grp-1", "success")
    verified = await paystack.verify("grp-1")
    assert (verified.status, verified.amount, verified.currency, verified.fees) == (
        "success",
        100_000,
        "NGN",
        1500,
    )
    assert verified.provider_id == str(fake.transactions["grp-1"].id)
    shares = fake._charge(fake.transactions["grp-1"])["split"]["shares"]
    assert shares == {
        "paystack": 1500,
        "subaccounts": [
            {"amount": 60_000, "subaccount_code": ada.code, "id": ada.code},
            {"amount": 30_000, "subaccount_code": bola.code, "id": bola.code},
        ],
        "integration": 8_500,  # the main account's 10 % minus the fee it bears
    }
    single = await paystack.initialize(
        email="buyer@example.com",
        amount=5000,
        currency="NGN",
        reference="one-1",
        subaccount=ada.code,
        bearer="subaccount",
    )
    assert single.reference == "one-1"
    assert fake.transactions["one-1"].subaccount == ada.code
    with pytest.raises(PaystackRefused, match="Split code is invalid"):
        await paystack.initialize(
            email="b@example.com", amount=5000, currency="NGN", reference="x-1", split_code="SPL_no"
        )


async def test_recipients_transfers_otp_and_bulk(
    served: tuple[PaystackFake, str], paystack: PaystackClient
) -> None:
    fake, _ = served
    recipient = await paystack.create_recipient(
        name="Ada", account_number=ACCOUNT, bank_code=GTB, currency="NGN"
    )
    assert recipient == Recipient(
        code=recipient.code,
        name="SANDBOX ACCOUNT 6789",
        account_number=ACCOUNT,
        bank_code=GTB,
        currency="NGN",
    )
    again = await paystack.create_recipient(
        name="Ada again", account_number=ACCOUNT, bank_code=GTB, currency="NGN"
    )
    assert again == recipient  # a duplicate account answers the existing recipient

    queued = await paystack.transfer(
        amount=500_000,
        currency="NGN",
        reference="payout-ada-0001",
        recipient=recipient,
        reason="Payout",
    )
    assert queued == TransferResult(
        reference="payout-ada-0001",
        status="pending",
        amount=500_000,
        currency="NGN",
        transfer_code=queued.transfer_code,
        provider_status="pending",
        fee=1000,
        message="Payout",
    )
    done = await paystack.verify_transfer("payout-ada-0001")
    assert (done.status, done.provider_status, done.transfer_code) == (
        "success",
        "success",
        queued.transfer_code,
    )
    assert fake.balance["NGN"] == DEFAULT_BALANCE - 500_000 - 1000  # amount and fee debited

    with pytest.raises(PaystackRefused, match="Reference already exists on a transfer"):
        await paystack.transfer(
            amount=500_000, currency="NGN", reference="payout-ada-0001", recipient=recipient
        )
    assert len(fake.transfers) == 1

    fake.transfer_outcome = "reversed"
    await paystack.transfer(
        amount=1000, currency="NGN", reference="payout-ada-0002", recipient=recipient
    )
    reversed_ = await paystack.verify_transfer("payout-ada-0002")
    assert (reversed_.status, reversed_.provider_status) == ("reversed", "reversed")
    assert fake.balance["NGN"] == DEFAULT_BALANCE - 501_000  # the reversal gave amount and fee back
    fake.transfer_outcome = "success"

    fake.otp_required = True
    held = await paystack.transfer(
        amount=2000, currency="NGN", reference="payout-ada-0003", recipient=recipient
    )
    assert (held.status, held.provider_status) == ("otp", "otp")
    assert held.transfer_code is not None
    with pytest.raises(PaystackRefused, match="Invalid OTP"):
        await paystack.finalize_transfer(held.transfer_code, "000000")
    await paystack.resend_transfer_otp(held.transfer_code)
    assert fake.calls["transfer.resend_otp"] == 1
    with pytest.raises(PaystackRefused, match="Transfer not found"):
        await paystack.resend_transfer_otp("TRF_unknown")
    finalized = await paystack.finalize_transfer(held.transfer_code, SANDBOX_OTP)
    assert (finalized.reference, finalized.status) == ("payout-ada-0003", "pending")
    with pytest.raises(PaystackRefused, match="not currently awaiting OTP"):
        await paystack.resend_transfer_otp(held.transfer_code)
    assert (await paystack.verify_transfer("payout-ada-0003")).status == "success"
    orders = [
        TransferOrder(
            amount=3000, currency="NGN", reference=f"bulk-ada-000{i}", recipient=recipient
        )
        for i in (1, 2)
    ]
    with pytest.raises(PaystackRefused, match="disable the OTP requirement"):
        await paystack.bulk_transfer(orders)
    fake.otp_required = False
    bulk = await paystack.bulk_transfer(orders)
    assert bulk == BulkTransferResult(
        batch_id=None,
        transfers=tuple(
            TransferResult(
                reference=f"bulk-ada-000{i}",
                status="pending",
                amount=3000,
                currency="NGN",
                transfer_code=fake.transfers[f"bulk-ada-000{i}"].code,
                provider_status="pending",
            )
            for i in (1, 2)
        ),
    )

    fake.balance["NGN"] = 10_999
    with pytest.raises(PaystackRefused, match="balance is not enough") as poor:
        await paystack.transfer(
            amount=10_000, currency="NGN", reference="payout-ada-0004", recipient=recipient
        )
    assert poor.value.status_code == 400
    assert fake.balance["NGN"] == 10_999
    with pytest.raises(PaystackRefused, match="Transfer not found"):
        await paystack.verify_transfer("payout-ada-0004")


async def test_refunds_partial_needs_attention_and_retry(
    served: tuple[PaystackFake, str], paystack: PaystackClient
) -> None:
    fake, _ = served
    await paystack.initialize(email="b@example.com", amount=10_000, currency="NGN", reference="r-1")
    fake.settle("r-1", "success")
    first = await paystack.refund(reference="r-1", amount=4000, currency="NGN")
    assert first == RefundResult(id=first.id, status="pending", amount=4000, currency="NGN")
    fake.refund_needs_attention_next()
    second = await paystack.refund(reference="r-1", amount=6000, currency="NGN")
    assert (second.status, second.amount) == ("needs-attention", 6000)
    with pytest.raises(PaystackRefused, match="fully reversed"):
        await paystack.refund(reference="r-1", amount=1, currency="NGN")
    assert [(r.id, r.status, r.amount) for r in await paystack.list_refunds("r-1")] == [
        (first.id, "pending", 4000),
        (second.id, "needs-attention", 6000),
    ]
    with pytest.raises(PaystackRefused, match='should be "needs-attention"') as wrong_state:
        await paystack.retry_refund(first.id, currency="NGN", account_number=ACCOUNT, bank_id="9")
    assert wrong_state.value.status_code == 422
    retried = await paystack.retry_refund(
        second.id, currency="NGN", account_number=ACCOUNT, bank_id="9"
    )
    assert (retried.id, retried.status, retried.amount) == (second.id, "processing", 6000)


async def test_disputes_list_evidence_resolve(
    served: tuple[PaystackFake, str], paystack: PaystackClient
) -> None:
    fake, _ = served
    await paystack.initialize(email="b@example.com", amount=8000, currency="NGN", reference="d-1")
    fake.settle("d-1", "success")
    opened = await fake.open_dispute("d-1")
    [listed] = await paystack.list_disputes(status="awaiting-merchant-feedback")
    assert listed == Dispute(
        id=str(opened.id),
        status="awaiting-merchant-feedback",
        resolution=None,
        refund_amount=8000,
        currency="NGN",
        transaction_reference="d-1",
        due_at=listed.due_at,
    )
    assert listed.due_at is not None
    with pytest.raises(PaystackRefused, match="Evidence is required"):
        await paystack.resolve_dispute(
            listed.id,
            resolution="declined",
            message="Delivered",
            refund_amount=0,
            uploaded_filename="proof.pdf",
        )
    evidence = await paystack.add_dispute_evidence(
        listed.id,
        customer_email="b@example.com",
        customer_name="Buyer",
        customer_phone="08000000000",
        service_details="Two shirts, delivered",
        delivery_date="2026-12-01",
    )
    resolved = await paystack.resolve_dispute(
        listed.id,
        resolution="declined",
        message="Delivered",
        refund_amount=0,
        uploaded_filename="proof.pdf",
        evidence=evidence,
    )
    assert (resolved.status, resolved.resolution, resolved.refund_amount) == (
        "resolved",
        "declined",
        0,
    )
    assert await paystack.list_disputes(status="awaiting-merchant-feedback") == []
    assert [e for e, _ in fake.deliveries] == ["charge.dispute.create", "charge.dispute.resolve"]


async def test_failure_modes_and_their_translation(
    served: tuple[PaystackFake, str], paystack: PaystackClient
) -> None:
    fake, url = served
    fake.rate_limit_next(retry_after=42)
    with pytest.raises(PaystackRateLimited) as limited:
        await paystack.initialize(
            email="b@example.com", amount=5000, currency="NGN", reference="f-1"
        )
    assert (limited.value.retry_after, limited.value.provider_code, limited.value.message) == (
        42.0,
        "rate_limited",
        "Rate limit exceeded!",
    )
    assert isinstance(limited.value, PaystackUnavailable)  # retryable, as callers already treat it
    error = from_provider(limited.value)
    assert isinstance(error, ProviderRateLimited)
    assert (error.status_code, error.code, error.headers, error.details) == (
        429,
        "provider_rate_limited",
        {"Retry-After": "42"},
        {"provider": "paystack", "retry_after": 42.0},
    )

    fake.fail_next()
    with pytest.raises(PaystackUnavailable) as down:
        await paystack.verify("nope")
    unavailable = from_provider(down.value)
    assert isinstance(unavailable, ProviderUnavailable)
    assert (unavailable.status_code, unavailable.code) == (502, "provider_unavailable")

    await paystack.initialize(email="b@example.com", amount=5000, currency="NGN", reference="f-2")
    with pytest.raises(PaystackRefused) as duplicate:
        await paystack.initialize(
            email="b@example.com", amount=5000, currency="NGN", reference="f-2"
        )
    refused = from_provider(duplicate.value)
    assert isinstance(refused, ProviderRefused)
    assert (refused.status_code, refused.code, refused.message, refused.details) == (
        422,
        "provider_refused",
        "Duplicate Transaction Reference",
        {"provider": "paystack"},
    )
    initiation = from_provider(duplicate.value, refused=PaymentInitiationFailed)
    assert (type(initiation), initiation.status_code) == (PaymentInitiationFailed, 402)

    fake.settle("f-2", "failed")
    failed = await paystack.verify("f-2")  # HTTP 200, and still not a payment
    assert (failed.status, failed.amount, failed.gateway_response) == ("failed", 5000, "Declined")

    async with PaystackClient(base_url=url, secret_key="sk_test_wrong", retries=0) as wrong:
        with pytest.raises(PaystackRefused) as unauthorised:
            await wrong.verify("f-2")
    credentials = from_provider(unauthorised.value)
    assert isinstance(credentials, ProviderError)
    assert credentials.message == "The payment provider refused this server's credentials."

    async with PaystackClient(base_url="http://127.0.0.1:9", secret_key="k", retries=0) as gone:
        with pytest.raises(PaystackUnavailable, match="could not be reached"):
            await gone.verify("f-2")


def test_webhooks_are_authenticated_then_normalised(paystack: PaystackClient) -> None:
    body = json.dumps(
        {"event": "charge.dispute.create", "data": {"id": 77, "transaction_reference": "d-9"}}
    ).encode()
    event = paystack.parse_webhook(body, {"X-Paystack-Signature": sign(DEFAULT_SECRET_KEY, body)})
    assert event == ProviderEvent(
        provider="paystack",
        type="dispute.create",
        event_id=event.event_id,
        reference="d-9",
        transaction_id=None,
        provider_type="charge.dispute.create",
        payload=json.loads(body),
    )
    assert event.event_id.startswith("charge.dispute.create:77:")
    charge = json.dumps({"event": "charge.success", "data": {"id": 5, "reference": "r"}}).encode()
    parsed = paystack.parse_webhook(
        charge, {"x-paystack-signature": sign(DEFAULT_SECRET_KEY, charge)}
    )
    assert (parsed.type, parsed.reference, parsed.transaction_id) == ("charge.success", "r", "5")
    for headers in (
        {},
        {"x-paystack-signature": "0" * 128},
        {"x-paystack-signature": sign("sk_other", body)},
    ):
        with pytest.raises(InvalidWebhook) as forged:
            paystack.parse_webhook(body, headers)
        assert forged.value.reason == "signature"
    junk = b"[1, 2]"
    with pytest.raises(InvalidWebhook) as not_event:
        paystack.parse_webhook(junk, {"x-paystack-signature": sign(DEFAULT_SECRET_KEY, junk)})
    assert not_event.value.reason == "payload"
