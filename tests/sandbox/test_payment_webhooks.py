"""The payment fakes deliver signed webhooks to a configured URL, and can deliver them late,
duplicated or out of order; the hosted checkout pages settle and notify."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from oja.billing.providers.flutterwave import parse_webhook as parse_flutterwave
from oja.billing.providers.paystack import parse_webhook as parse_paystack
from oja.sandbox.flutterwave import DEFAULT_SECRET_HASH, FlutterwaveFake
from oja.sandbox.paystack import DEFAULT_SECRET_KEY, PaystackFake
from oja.sandbox.server import SandboxServer
from tests.fakes import serving


@dataclass
class Receiver:
    url: str
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def events(self) -> list[tuple[str, str]]:
        """``(event name, status)`` of every delivery, in arrival order."""
        out = []
        for _, body in self.received:
            event = json.loads(body)
            out.append((event["event"], str(event["data"].get("status"))))
        return out


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    app = FastAPI()
    box = Receiver(url="")

    @app.post("/hook")
    async def hook(request: Request) -> dict[str, bool]:
        box.received.append((dict(request.headers), await request.body()))
        return {"ok": True}

    with SandboxServer(app) as server:
        box.url = server.url + "/hook"
        yield box


@pytest.fixture
def paystack() -> Iterator[tuple[PaystackFake, str]]:
    yield from serving(PaystackFake())


@pytest.fixture
def flutterwave() -> Iterator[tuple[FlutterwaveFake, str]]:
    yield from serving(FlutterwaveFake())


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_paystack_checkout_delivers_signed_charge_success(
    paystack: tuple[PaystackFake, str], receiver: Receiver
) -> None:
    fake, url = paystack
    fake.webhook_url = receiver.url
    async with httpx.AsyncClient(base_url=url, headers=bearer(DEFAULT_SECRET_KEY)) as http:
        started = await http.post(
            "/transaction/initialize",
            json={"email": "b@example.com", "amount": "5000", "reference": "w-1"},
        )
        code = started.json()["data"]["access_code"]
        paid = await http.post(f"/checkout/{code}/pay", headers={"accept": "application/json"})
    assert paid.json() == {"reference": "w-1", "status": "success", "webhook_status": 200}
    [(headers, body)] = receiver.received
    event = parse_paystack(DEFAULT_SECRET_KEY, body, headers)  # the signature holds
    assert (event.type, event.reference) == ("charge.success", "w-1")
    assert json.loads(body)["data"]["amount"] == 5000


async def test_paystack_late_duplicate_and_out_of_order_webhooks(
    paystack: tuple[PaystackFake, str], receiver: Receiver
) -> None:
    fake, url = paystack
    fake.webhook_url = receiver.url
    async with httpx.AsyncClient(base_url=url, headers=bearer(DEFAULT_SECRET_KEY)) as http:
        await http.post(
            "/transaction/initialize",
            json={"email": "b@example.com", "amount": 9000, "reference": "w-2"},
        )
        fake.settle("w-2", "success")
        fake.webhooks.hold()
        refund = await http.post("/refund", json={"transaction": "w-2", "amount": 9000})
        refund_id = refund.json()["data"]["id"]
        await fake.settle_refund(refund_id, "processing")
        await fake.settle_refund(refund_id, "processed")
        assert receiver.received == []  # late: nothing yet
        assert await fake.webhooks.release(reverse=True) == [200, 200, 200]
        assert receiver.events() == [
            ("refund.processed", "processed"),
            ("refund.processing", "processing"),
            ("refund.pending", "pending"),
        ]
        bodies = [json.loads(b)["data"]["amount"] for _, b in receiver.received]
        assert bodies == ["9000", 9000, 9000]  # refund.processed carries a string amount (C13)

        fake.webhooks.duplicate_next(3)
        await fake.deliver("charge.success", fake.transactions["w-2"])
    duplicates = receiver.received[3:]
    assert len(duplicates) == 3
    assert len({body for _, body in duplicates}) == 1  # byte for byte
    for headers, body in receiver.received:
        parse_paystack(DEFAULT_SECRET_KEY, body, headers)


async def test_paystack_transfers_and_disputes_announce_themselves(
    paystack: tuple[PaystackFake, str], receiver: Receiver
) -> None:
    fake, url = paystack
    fake.webhook_url = receiver.url
    async with httpx.AsyncClient(base_url=url, headers=bearer(DEFAULT_SECRET_KEY)) as http:
        recipient = await http.post(
            "/transferrecipient",
            json={"type": "nuban", "name": "A", "account_number": "0123456789", "bank_code": "058"},
        )
        code = recipient.json()["data"]["recipient_code"]
        fake.transfer_outcome = "failed"
        await http.post(
            "/transfer",
            json={
                "source": "balance",
                "amount": 1000,
                "recipient": code,
                "reference": "t-1-abcdefghijklmn",
            },
        )
        await http.post(
            "/transaction/initialize",
            json={"email": "b@example.com", "amount": 9000, "reference": "d-1"},
        )
        fake.settle("d-1", "success")
        dispute = await fake.open_dispute("d-1")
        await fake.remind_dispute(dispute.id)
    assert receiver.events() == [
        ("transfer.failed", "failed"),
        ("charge.dispute.create", "awaiting-merchant-feedback"),
        ("charge.dispute.remind", "awaiting-merchant-feedback"),
    ]


async def test_paystack_answers_429_with_retry_after(paystack: tuple[PaystackFake, str]) -> None:
    fake, url = paystack
    fake.rate_limit_next(retry_after=7)
    async with httpx.AsyncClient(base_url=url, headers=bearer(DEFAULT_SECRET_KEY)) as http:
        limited = await http.get("/bank")
        after = await http.get("/bank")
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "7")
    assert limited.json() == {
        "status": False,
        "message": "Rate limit exceeded!",
        "type": "api_error",
        "code": "rate_limited",
    }
    assert after.status_code == 200


@pytest.mark.parametrize("mode", ["v3", "v4-hash", "v4-hmac"])
async def test_flutterwave_checkout_delivers_charge_completed_in_each_signature_mode(
    flutterwave: tuple[FlutterwaveFake, str], receiver: Receiver, mode: Any
) -> None:
    fake, url = flutterwave
    fake.webhook_url = receiver.url
    fake.signature_mode = mode
    async with httpx.AsyncClient(base_url=url, headers=bearer(fake.secret_key)) as http:
        started = await http.post(
            "/v3/payments",
            json={
                "tx_ref": "fw-1",
                "amount": "100.50",
                "currency": "NGN",
                "redirect_url": "http://127.0.0.1/back",
                "customer": {"email": "b@example.com"},
            },
        )
        link = started.json()["data"]["link"]
        page = await http.get(link)
        paid = await http.post(link + "/pay", headers={"accept": "application/json"})
    assert "pays NGN 100.50" in page.text
    charge = fake.by_reference("fw-1")
    assert paid.json() == {
        "tx_ref": "fw-1",
        "transaction_id": charge.id,
        "status": "successful",
        "webhook_status": 200,
    }
    [(headers, body)] = receiver.received
    assert ("verif-hash" in headers) == (mode == "v3")
    assert ("flutterwave-signature" in headers) == (mode != "v3")
    event = parse_flutterwave(DEFAULT_SECRET_HASH, body, headers)
    assert (event.type, event.reference, event.transaction_id) == (
        "charge.success",
        "fw-1",
        str(charge.id),
    )
    assert json.loads(body)["data"]["amount"] == 100.5


async def test_flutterwave_failed_charge_and_out_of_order_transfer_webhooks(
    flutterwave: tuple[FlutterwaveFake, str], receiver: Receiver
) -> None:
    fake, url = flutterwave
    fake.webhook_url = receiver.url
    async with httpx.AsyncClient(base_url=url, headers=bearer(fake.secret_key)) as http:
        await http.post(
            "/v3/payments",
            json={
                "tx_ref": "fw-2",
                "amount": 500,
                "redirect_url": "http://127.0.0.1/back",
                "customer": {"email": "b@example.com"},
            },
        )
        charge = fake.settle("fw-2", "failed")
        await fake.deliver(charge)
        verify = await http.get(f"/v3/transactions/{charge.id}/verify")
        assert (verify.status_code, verify.json()["data"]["status"]) == (200, "failed")
        sent = await http.post(
            "/v3/transfers",
            json={
                "account_bank": "044",
                "account_number": "0690000031",
                "amount": 10,
                "reference": "p-1",
            },
        )
        transfer_id = sent.json()["data"]["id"]
        fake.webhooks.hold()
        await fake.settle_transfer(transfer_id, "FAILED")
        fake.webhooks.duplicate_next(2)
        await fake.settle_transfer(transfer_id, "SUCCESSFUL")
        assert len(fake.webhooks.held) == 3
        await fake.webhooks.release(reverse=True)
    assert receiver.events() == [
        ("charge.completed", "failed"),
        ("transfer.completed", "SUCCESSFUL"),
        ("transfer.completed", "SUCCESSFUL"),
        ("transfer.completed", "FAILED"),
    ]
    for headers, body in receiver.received:
        parse_flutterwave(DEFAULT_SECRET_HASH, body, headers)


async def test_flutterwave_auth_and_429(flutterwave: tuple[FlutterwaveFake, str]) -> None:
    fake, url = flutterwave
    async with httpx.AsyncClient(base_url=url) as http:
        denied = await http.get("/v3/banks/NG", headers=bearer("FLWSECK_TEST-nope"))
        fake.rate_limit_next(retry_after=3)
        limited = await http.get("/v3/banks/NG", headers=bearer(fake.secret_key))
    assert denied.status_code == 401
    assert denied.json() == {
        "status": "error",
        "message": "Invalid authorization key",
        "data": None,
    }
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
    assert limited.json()["status"] == "error"


async def test_paystack_charge_authorization_charges_a_saved_card(
    paystack: tuple[PaystackFake, str], receiver: Receiver
) -> None:
    fake, url = paystack
    fake.webhook_url = receiver.url
    async with httpx.AsyncClient(base_url=url, headers=bearer(DEFAULT_SECRET_KEY)) as http:
        await http.post(
            "/transaction/initialize",
            json={"email": "b@example.com", "amount": 5000, "reference": "c-1"},
        )
        fake.settle("c-1", "success")
        charge = {"authorization_code": "AUTH_sandbox", "email": "b@example.com", "amount": 7000}
        charged = await http.post(
            "/transaction/charge_authorization", json={**charge, "reference": "c-2"}
        )
        again = await http.post(
            "/transaction/charge_authorization", json={**charge, "reference": "c-2"}
        )
        stranger = await http.post(
            "/transaction/charge_authorization",
            json={**charge, "email": "x@example.com", "reference": "c-3"},
        )
    data = charged.json()["data"]
    assert (data["reference"], data["status"], data["amount"]) == ("c-2", "success", 7000)
    assert (again.status_code, again.json()["message"]) == (400, "Duplicate Transaction Reference")
    assert (stranger.status_code, stranger.json()["message"]) == (400, "Invalid authorization code")
    assert receiver.events() == [("charge.success", "success")]
