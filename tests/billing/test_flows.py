"""End to end over real HTTP: Oja served by uvicorn, the fakes sending signed webhooks to it, jobs
run by the server's own loop as a worker would."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from oja.core.config import Settings
from oja.core.jobs.runner import execute
from oja.sandbox.paystack import PaystackFake
from oja.sandbox.server import SandboxServer
from oja.sandbox.stripe import StripeFake
from tests.billing.conftest import PASSWORD, Served


@pytest.fixture
def oja(settings: Settings) -> Iterator[str]:
    from oja.main import create_app

    running: set[asyncio.Task[str]] = set()

    async def run_in_server_loop(task_name: str, job_id: uuid.UUID, countdown: float) -> None:
        task = asyncio.get_running_loop().create_task(execute(str(job_id), app.state.runtime))
        running.add(task)
        task.add_done_callback(running.discard)

    app = create_app(settings, publisher=run_in_server_loop)
    with SandboxServer(app) as server:
        yield server.url


async def login(http: httpx.AsyncClient) -> dict[str, str]:
    email = f"flow-{uuid.uuid4().hex[:8]}@example.com"
    assert (
        await http.post("/auth/signup", json={"email": email, "password": PASSWORD})
    ).status_code == 201
    token = (await http.post("/auth/login", json={"email": email, "password": PASSWORD})).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


async def eventually(check: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


async def test_paystack_initiate_pay_webhook_job_success(oja: str, paystack_server: Served) -> None:
    fake = PaystackFake(webhook_url=f"{oja}/payments/paystack/webhook")
    paystack_server.switch.app = fake.app
    async with httpx.AsyncClient(base_url=oja, timeout=30) as http:
        headers = await login(http)
        started = await http.post(
            "/payments/paystack/initiate", json={"amount": 250_000}, headers=headers
        )
        assert started.status_code == 201, started.text
        reference = started.json()["reference"]
        page = await http.get(started.json()["authorization_url"])
        assert page.status_code == 200
        assert "Pay" in page.text
        paid = await http.post(
            started.json()["authorization_url"] + "/pay", headers={"accept": "application/json"}
        )
        assert paid.json() == {"reference": reference, "status": "success", "webhook_status": 200}

        async def succeeded() -> dict[str, Any] | None:
            body = (await http.get(f"/payments/{reference}/status", headers=headers)).json()
            return body if body["status"] == "success" else None

        final = await eventually(succeeded)
        assert final is not None, "the payment never reached success"
        assert (final["amount"], final["currency"]) == (250_000, "NGN")
        assert final["paid_at"] is not None
    assert fake.deliveries == [("charge.success", 200)]
    assert fake.calls["verify"] == 1


async def test_paystack_failed_checkout_ends_failed(oja: str, paystack_server: Served) -> None:
    fake = PaystackFake(webhook_url=f"{oja}/payments/paystack/webhook")
    paystack_server.switch.app = fake.app
    async with httpx.AsyncClient(base_url=oja, timeout=30) as http:
        headers = await login(http)
        started = (
            await http.post("/payments/paystack/initiate", json={"amount": 900}, headers=headers)
        ).json()
        await http.post(
            started["authorization_url"] + "/fail", headers={"accept": "application/json"}
        )

        async def failed() -> bool:
            body = (
                await http.get(f"/payments/{started['reference']}/status", headers=headers)
            ).json()
            return bool(body["status"] == "failed")

        assert await eventually(failed)


async def test_stripe_subscribe_complete_webhook_pro(oja: str, stripe_server: Served) -> None:
    fake = StripeFake(webhook_url=f"{oja}/webhook/stripe")
    stripe_server.switch.app = fake.app
    async with httpx.AsyncClient(base_url=oja, timeout=30) as http:
        headers = await login(http)
        assert (await http.get("/subscription/status", headers=headers)).json()["tier"] == "basic"
        checkout = await http.post("/subscribe/pro", headers=headers)
        assert checkout.status_code == 200, checkout.text
        page = await http.get(checkout.json()["checkout_url"])
        assert page.status_code == 200
        done = await http.post(
            checkout.json()["checkout_url"] + "/complete", headers={"accept": "application/json"}
        )
        assert done.json()["webhook_statuses"] == [200, 200, 200]

        async def pro() -> bool:
            body = (await http.get("/subscription/status", headers=headers)).json()
            return bool(body["tier"] == "pro")

        assert await eventually(pro)
        cancelled = await http.post("/subscription/cancel", headers=headers)
        assert cancelled.json()["cancel_at_period_end"] is True
        assert cancelled.json()["tier"] == "pro"
