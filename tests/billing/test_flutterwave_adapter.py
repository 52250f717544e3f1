"""The Flutterwave v3 adapter against the Flutterwave fake over real HTTP: major units converted at
the edge only, every method's normalised result, failure modes, and webhook authentication (v3
``verif-hash``, v4 ``flutterwave-signature`` as the hash or as an HMAC)."""

from __future__ import annotations

import hmac
import json
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import pytest

from oja.billing.errors import ProviderRateLimited, ProviderRefused, from_provider
from oja.billing.providers import flutterwave as flutterwave_module
from oja.billing.providers.flutterwave import (
    FlutterwaveClient,
    FlutterwaveRefused,
    FlutterwaveUnavailable,
    hmac_signature,
    parse_webhook,
    webhook_authentic,
)
from oja.billing.providers.port import (
    Bank,
    BulkTransferResult,
    InvalidWebhook,
    PaymentProvider,
    ProviderCallRateLimited,
    ProviderEvent,
    Recipient,
    RefundResult,
    ResolvedAccount,
    Subaccount,
    TransferOrder,
    TransferResult,
    VerifiedTransaction,
)
from oja.sandbox.flutterwave import (
    BLACKLISTED_ACCOUNT,
    DEFAULT_BALANCE,
    DEFAULT_SECRET_HASH,
    DEFAULT_SECRET_KEY,
    FlutterwaveFake,
)
from tests.fakes import serving

ACCOUNT = "0690000031"
ACCESS = "044"


@pytest.fixture
def served() -> Iterator[tuple[FlutterwaveFake, str]]:
    yield from serving(FlutterwaveFake())


@pytest.fixture
async def flutterwave(served: tuple[FlutterwaveFake, str]) -> AsyncIterator[FlutterwaveClient]:
    async with FlutterwaveClient(
        base_url=served[1],
        secret_key=DEFAULT_SECRET_KEY,
        secret_hash=DEFAULT_SECRET_HASH,
        redirect_url="http://127.0.0.1:8000/back",
        timeout=5,
        retries=0,
    ) as client:
        yield client


def test_the_adapter_is_a_payment_provider() -> None:
    provider: PaymentProvider = FlutterwaveClient(base_url="http://127.0.0.1:9", secret_key="k")
    assert provider.name == "flutterwave"


async def test_standard_checkout_sends_major_units_and_verifies_in_minor_units(
    served: tuple[FlutterwaveFake, str], flutterwave: FlutterwaveClient
) -> None:
    fake, url = served
    started = await flutterwave.initialize(
        email="buyer@example.com",
        amount=10050,
        currency="NGN",
        reference="fw-1",
        metadata={"order": "g-1"},
    )
    charge = fake.by_reference("fw-1")
    assert started.reference == "fw-1"
    assert started.authorization_url == f"{url}/v3/hosted/pay/{charge.token}"
    assert started.access_code == ""
    assert charge.amount == Decimal("100.50")  # ₦100.50 on the wire, 10050 kobo inside
    assert (charge.redirect_url, charge.meta) == ("http://127.0.0.1:8000/back", {"order": "g-1"})

    pending = await flutterwave.verify("fw-1")
    assert (pending.status, pending.provider_status, pending.amount) == (
        "pending",
        "pending",
        10050,
    )
    fake.settle("fw-1", "successful")
    by_reference = await flutterwave.verify("fw-1")
    assert by_reference == VerifiedTransaction(
        reference="fw-1",
        status="success",
        amount=10050,
        currency="NGN",
        paid_at=by_reference.paid_at,
        gateway_response="Approved by Financial Institution",
        channel="card",
        provider_id=str(charge.id),
        provider_status="successful",
        fees=141,  # app_fee ₦1.41 (1.4 % of ₦100.50, rounded to kobo by Flutterwave)
    )
    assert by_reference.paid_at is not None
    assert await flutterwave.verify_transaction(str(charge.id)) == by_reference

    xof = await flutterwave.initialize(
        email="b@example.com", amount=1500, currency="XOF", reference="fw-xof"
    )
    assert xof.reference == "fw-xof"
    assert fake.by_reference("fw-xof").amount == Decimal(1500)  # zero-decimal: 1500 is 1500
    assert (await flutterwave.verify("fw-xof")).amount == 1500

    fake.settle("fw-xof", "failed")
    failed = await flutterwave.verify("fw-xof")  # HTTP 200, status failed
    assert (failed.status, failed.provider_status) == ("failed", "failed")

    with pytest.raises(FlutterwaveRefused, match="already exists"):
        await flutterwave.initialize(
            email="b@example.com", amount=100, currency="NGN", reference="fw-1"
        )
    with pytest.raises(FlutterwaveRefused, match="No transaction was found"):
        await flutterwave.verify("nope")


async def test_misreported_amount_and_currency_come_through_as_reported(
    served: tuple[FlutterwaveFake, str], flutterwave: FlutterwaveClient
) -> None:
    fake, _ = served
    await flutterwave.initialize(
        email="b@example.com", amount=10050, currency="NGN", reference="m-1"
    )
    fake.settle("m-1", "successful")
    fake.misreport_next_verify(amount=100.49)
    assert (await flutterwave.verify("m-1")).amount == 10049
    fake.misreport_next_verify(currency="USD")
    assert (await flutterwave.verify("m-1")).currency == "USD"


async def test_refunds_partial_then_rest(
    served: tuple[FlutterwaveFake, str], flutterwave: FlutterwaveClient
) -> None:
    fake, _ = served
    await flutterwave.initialize(
        email="b@example.com", amount=10050, currency="NGN", reference="r-1"
    )
    fake.settle("r-1", "successful")
    partial = await flutterwave.refund(reference="r-1", amount=2525, currency="NGN")
    assert partial == RefundResult(id=partial.id, status="completed", amount=2525, currency="NGN")
    assert fake.refunds[0]["amount_refunded"] == 25.25
    rest = await flutterwave.refund(reference="r-1", amount=7525, currency="NGN")
    assert (rest.amount, fake.by_reference("r-1").refunded) == (7525, Decimal("100.50"))
    await flutterwave.initialize(email="b@example.com", amount=990, currency="NGN", reference="r-3")
    fake.settle("r-3", "successful")
    whole = await flutterwave.refund(reference="r-3", amount=None, currency="NGN")
    assert (whole.amount, fake.refunds[-1]["amount_refunded"]) == (990, 9.9)


async def test_refund_over_the_remainder_is_refused(
    served: tuple[FlutterwaveFake, str], flutterwave: FlutterwaveClient
) -> None:
    fake, _ = served
    await flutterwave.initialize(
        email="b@example.com", amount=10050, currency="NGN", reference="r-2"
    )
    fake.settle("r-2", "successful")
    await flutterwave.refund(reference="r-2", amount=10000, currency="NGN")
    with pytest.raises(FlutterwaveRefused, match="cannot exceed"):
        await flutterwave.refund(reference="r-2", amount=51, currency="NGN")
    done = await flutterwave.refund(reference="r-2", amount=50, currency="NGN")
    assert done.amount == 50


async def test_banks_accounts_subaccounts(flutterwave: FlutterwaveClient) -> None:
    banks = await flutterwave.list_banks("ng")
    assert banks[0] == Bank(code="044", name="Access Bank", country="NG", currency=None)
    assert len(banks) == 5
    assert await flutterwave.resolve_account(account_number=ACCOUNT, bank_code=ACCESS) == (
        ResolvedAccount(
            account_number=ACCOUNT, account_name="SANDBOX ACCOUNT 0031", bank_code=ACCESS
        )
    )
    with pytest.raises(FlutterwaveRefused, match="account number is invalid"):
        await flutterwave.resolve_account(account_number="0001112223", bank_code=ACCESS)
    sub = await flutterwave.create_subaccount(
        business_name="Ada Stores",
        bank_code=ACCESS,
        account_number=ACCOUNT,
        commission_percent=Decimal("12.5"),
        phone="08000000000",
    )
    assert sub == Subaccount(
        code=sub.code,
        provider_id=sub.provider_id,
        business_name="Ada Stores",
        account_number=ACCOUNT,
        bank="Access Bank",
        commission_percent=Decimal("12.5"),
    )
    assert sub.code.startswith("RS_")
    updated = await flutterwave.update_subaccount(sub.provider_id, commission_percent=Decimal(10))
    assert updated.commission_percent == Decimal(10)
    assert [s.code for s in await flutterwave.list_subaccounts()] == [sub.code]


async def test_transfers_single_bulk_and_test_mode_outcomes(
    served: tuple[FlutterwaveFake, str], flutterwave: FlutterwaveClient
) -> None:
    fake, _ = served
    recipient = await flutterwave.create_recipient(
        name="Ada", account_number=ACCOUNT, bank_code=ACCESS, currency="NGN"
    )
    assert recipient == Recipient(
        code=f"{ACCESS}:{ACCOUNT}",
        name="SANDBOX ACCOUNT 0031",
        account_number=ACCOUNT,
        bank_code=ACCESS,
        currency="NGN",
    )
    queued = await flutterwave.transfer(
        amount=500_050, currency="NGN", reference="payout-1", recipient=recipient, reason="Payout"
    )
    assert queued == TransferResult(
        reference="payout-1",
        status="pending",
        amount=500_050,
        currency="NGN",
        transfer_code=queued.transfer_code,
        provider_status="NEW",
        fee=2688,
        message="",
    )
    record = fake.transfers[int(str(queued.transfer_code))]
    assert record.amount == Decimal("5000.50")
    assert fake.balance["NGN"] == DEFAULT_BALANCE - Decimal("5000.50") - Decimal("26.88")
    await fake.settle_transfer(record.id, "SUCCESSFUL")
    assert (await flutterwave.verify_transfer("payout-1")).status == "success"
    assert (await flutterwave.fetch_transfer(str(record.id))).provider_status == "SUCCESSFUL"

    with pytest.raises(FlutterwaveRefused, match="Duplicate reference"):
        await flutterwave.transfer(
            amount=100, currency="NGN", reference="payout-1", recipient=recipient
        )
    ok = await flutterwave.transfer(
        amount=100, currency="NGN", reference="p-2_PMCK", recipient=recipient
    )
    assert (ok.status, ok.provider_status) == ("success", "SUCCESSFUL")
    bad = await flutterwave.transfer(
        amount=100, currency="NGN", reference="p-3_PMCK_ST_F", recipient=recipient
    )
    assert (bad.status, bad.message) == ("failed", "DISBURSE FAILED: Transfer failed")

    blacklisted = Recipient(
        code="x", name="x", account_number=BLACKLISTED_ACCOUNT, bank_code=ACCESS, currency="NGN"
    )
    with pytest.raises(FlutterwaveRefused, match="blacklisted") as refused:
        await flutterwave.transfer(
            amount=100, currency="NGN", reference="p-4", recipient=blacklisted
        )
    assert refused.value.status_code == 400

    fake.balance["NGN"] = Decimal("10.00")
    poor = await flutterwave.transfer(
        amount=1000, currency="NGN", reference="p-5", recipient=recipient
    )
    assert (poor.status, poor.message) == (
        "failed",
        "DISBURSE FAILED: Insufficient funds in customer balance",
    )
    assert fake.balance["NGN"] == Decimal("10.00")
    fake.balance["NGN"] = DEFAULT_BALANCE

    bulk = await flutterwave.bulk_transfer(
        [
            TransferOrder(amount=1000, currency="NGN", reference=f"b-{i}", recipient=recipient)
            for i in (1, 2)
        ]
    )
    assert bulk == BulkTransferResult(batch_id=bulk.batch_id, transfers=())
    assert bulk.batch_id
    assert [(await flutterwave.verify_transfer(f"b-{i}")).amount for i in (1, 2)] == [1000, 1000]
    with pytest.raises(FlutterwaveRefused, match="Transfer not found"):
        await flutterwave.verify_transfer("b-3")


async def test_failure_modes_map_to_oja_errors(
    served: tuple[FlutterwaveFake, str], flutterwave: FlutterwaveClient
) -> None:
    fake, url = served
    fake.rate_limit_next(retry_after=90)
    with pytest.raises(ProviderCallRateLimited) as limited:
        await flutterwave.verify("x")
    error = from_provider(limited.value)
    assert isinstance(error, ProviderRateLimited)
    assert (error.headers, error.details) == (
        {"Retry-After": "90"},
        {"provider": "flutterwave", "retry_after": 90.0},
    )
    assert "Flutterwave is rate limiting" in error.message
    fake.fail_next()
    with pytest.raises(FlutterwaveUnavailable, match="answered 500"):
        await flutterwave.verify("x")
    with pytest.raises(FlutterwaveRefused) as refused:
        await flutterwave.verify("x")
    translated = from_provider(refused.value)
    assert isinstance(translated, ProviderRefused)
    assert translated.message == "No transaction was found for this id"
    async with FlutterwaveClient(base_url=url, secret_key="FLWSECK_TEST-wrong", retries=0) as wrong:
        with pytest.raises(FlutterwaveRefused) as unauthorised:
            await wrong.verify("x")
    assert unauthorised.value.status_code == 401


def _charge_body(**data: Any) -> bytes:
    return json.dumps(
        {"event": "charge.completed", "data": {"id": 7000001, "tx_ref": "fw-1", **data}}
    ).encode()


def test_webhook_v3_verif_hash_and_v4_signatures(monkeypatch: pytest.MonkeyPatch) -> None:
    body = _charge_body(status="successful", amount=100.5)
    good = [
        {"verif-hash": DEFAULT_SECRET_HASH},
        {"Verif-Hash": DEFAULT_SECRET_HASH},
        {"flutterwave-signature": DEFAULT_SECRET_HASH},
        {"flutterwave-signature": hmac_signature(DEFAULT_SECRET_HASH, body)},
    ]
    for headers in good:
        assert webhook_authentic(DEFAULT_SECRET_HASH, body, headers), headers
    bad: list[dict[str, str]] = [
        {},
        {"verif-hash": ""},
        {"verif-hash": "wrong"},
        {"verif-hash": DEFAULT_SECRET_HASH + "x"},
        {"flutterwave-signature": hmac_signature("other", body)},
        {"flutterwave-signature": hmac_signature(DEFAULT_SECRET_HASH, body + b" ")},
        {"verif-hash": hmac_signature(DEFAULT_SECRET_HASH, body)},  # v3 header is the hash itself
    ]
    for headers in bad:
        with pytest.raises(InvalidWebhook) as forged:
            parse_webhook(DEFAULT_SECRET_HASH, body, headers)
        assert forged.value.reason == "signature"

    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(flutterwave_module.hmac, "compare_digest", spy)
    webhook_authentic(DEFAULT_SECRET_HASH, body, {"flutterwave-signature": "nope"})
    assert len(compared) == 2  # both readings are compared in constant time, neither short-circuits


def test_webhook_dialects_are_normalised() -> None:
    v3 = _charge_body(status="successful")
    event = parse_webhook(DEFAULT_SECRET_HASH, v3, {"verif-hash": DEFAULT_SECRET_HASH})
    assert event == ProviderEvent(
        provider="flutterwave",
        type="charge.success",
        event_id="charge.completed:7000001:successful",
        reference="fw-1",
        transaction_id="7000001",
        provider_type="charge.completed",
        payload=json.loads(v3),
    )
    v4 = json.dumps(
        {
            "id": "wbk_abc",
            "type": "charge.completed",
            "timestamp": 1,
            "data": {"id": "chg_1", "reference": "fw-1", "status": "succeeded"},
        }
    ).encode()
    event4 = parse_webhook(
        DEFAULT_SECRET_HASH, v4, {"flutterwave-signature": hmac_signature(DEFAULT_SECRET_HASH, v4)}
    )
    assert (event4.type, event4.event_id, event4.reference, event4.transaction_id) == (
        "charge.success",
        "wbk_abc",
        "fw-1",
        "chg_1",
    )
    legacy = json.dumps(
        {"event.type": "CARD_TRANSACTION", "data": {"txRef": "fw-1", "status": "failed", "id": 9}}
    ).encode()
    event_legacy = parse_webhook(DEFAULT_SECRET_HASH, legacy, {"verif-hash": DEFAULT_SECRET_HASH})
    assert (event_legacy.type, event_legacy.reference) == ("charge.failed", "fw-1")
    transfer = json.dumps(
        {"event": "transfer.completed", "data": {"id": 3, "reference": "p-1", "status": "FAILED"}}
    ).encode()
    assert (
        parse_webhook(DEFAULT_SECRET_HASH, transfer, {"verif-hash": DEFAULT_SECRET_HASH}).type
        == "transfer.failed"
    )
    for junk in (b"not json", b"[]", b'{"event": "x"}', b'{"data": {}}'):
        with pytest.raises(InvalidWebhook) as rejected:
            parse_webhook(DEFAULT_SECRET_HASH, junk, {"verif-hash": DEFAULT_SECRET_HASH})
        assert rejected.value.reason == "payload"


def test_a_client_without_a_secret_hash_authenticates_nothing() -> None:
    client = FlutterwaveClient(base_url="http://127.0.0.1:9", secret_key="k")
    with pytest.raises(InvalidWebhook):
        client.parse_webhook(_charge_body(), {"verif-hash": ""})
