"""The Paystack fake answers like Paystack: bearer check, envelope, abandoned until paid, knobs."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from oja.billing.providers.paystack import PaystackClient, PaystackRefused, PaystackUnavailable
from oja.sandbox.paystack import DEFAULT_SECRET_KEY, PaystackFake, sign
from oja.sandbox.server import SandboxServer
from tests.fakes import serving


@pytest.fixture
def served() -> Iterator[tuple[PaystackFake, str]]:
    yield from serving(PaystackFake())


async def test_wrong_key_is_401_invalid_key(served: tuple[PaystackFake, str]) -> None:
    _, url = served
    async with httpx.AsyncClient(base_url=url) as http:
        response = await http.post(
            "/transaction/initialize",
            json={"email": "a@example.com", "amount": 100},
            headers={"Authorization": "Bearer sk_test_nope"},
        )
    assert response.status_code == 401
    assert response.json() == {"status": False, "message": "Invalid key"}


async def test_initialize_verify_refund_and_knobs(served: tuple[PaystackFake, str]) -> None:
    fake, url = served
    async with PaystackClient(base_url=url, secret_key=DEFAULT_SECRET_KEY, timeout=5) as client:
        started = await client.initialize(
            email="a@example.com", amount=5000, currency="NGN", reference="r1"
        )
        assert started.authorization_url == f"{url}/checkout/{started.access_code}"
        assert (await client.verify("r1")).status == "abandoned"
        fake.settle("r1", "success")
        verified = await client.verify("r1")
        assert (verified.status, verified.amount, verified.currency) == ("success", 5000, "NGN")
        fake.misreport_next_verify(1)
        assert (await client.verify("r1")).amount == 1
        assert (await client.verify("r1")).amount == 5000
        refund = await client.refund(reference="r1", amount=2000, currency="NGN")
        assert (refund.status, refund.amount) == ("pending", 2000)
        with pytest.raises(PaystackRefused, match="more than the transaction amount"):
            await client.refund(reference="r1", amount=3001, currency="NGN")
        with pytest.raises(PaystackRefused, match="Duplicate Transaction Reference"):
            await client.initialize(
                email="a@example.com", amount=5000, currency="NGN", reference="r1"
            )
        fake.refuse_next_initialize("No way")
        with pytest.raises(PaystackRefused, match="No way"):
            await client.initialize(
                email="a@example.com", amount=5000, currency="NGN", reference="r2"
            )
        fake.fail_next()
        with pytest.raises(PaystackUnavailable):
            await client.verify("r1")
        with pytest.raises(PaystackRefused, match="not found"):
            await client.verify("missing")


async def test_checkout_pay_sends_a_correctly_signed_webhook(
    served: tuple[PaystackFake, str],
) -> None:
    received: list[tuple[bytes, str]] = []

    async def receiver(scope: object, receive: object, send: object) -> None:
        from starlette.requests import Request
        from starlette.responses import JSONResponse

        request = Request(scope, receive)  # type: ignore[arg-type]
        received.append((await request.body(), request.headers["x-paystack-signature"]))
        await JSONResponse({"status": True})(scope, receive, send)  # type: ignore[arg-type]

    fake, url = served
    with SandboxServer(receiver) as hook:
        fake.webhook_url = hook.url + "/hook"
        async with PaystackClient(base_url=url, secret_key=DEFAULT_SECRET_KEY) as client:
            started = await client.initialize(
                email="a@example.com", amount=700, currency="NGN", reference="r9"
            )
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                started.authorization_url + "/pay", headers={"accept": "application/json"}
            )
    assert answer.json() == {"reference": "r9", "status": "success", "webhook_status": 200}
    ((body, signature),) = received
    assert signature == sign(DEFAULT_SECRET_KEY, body)
    assert b'"event": "charge.success"' in body
