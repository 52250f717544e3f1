"""The payment providers' HTTP clients: one pooled client per runtime and provider account, kept
open across adapters (a checkout no longer opens a connection per payment), closed with the
runtime; an adapter made outside a request or job, or with its own transport, owns its client."""

from __future__ import annotations

from pathlib import Path

import httpx

from oja.billing.providers.flutterwave import FlutterwaveClient
from oja.billing.providers.paystack import PaystackClient
from oja.core.runtime import Runtime, running
from oja.sandbox.paystack import DEFAULT_SECRET_KEY, PaystackFake
from tests.conftest import make_settings

from .conftest import Served, paystack, paystack_server

__all__ = ["paystack", "paystack_server"]


async def test_adapters_share_the_runtimes_client_until_it_closes(
    tmp_path: Path, database_url: str, paystack: PaystackFake, paystack_server: Served
) -> None:
    runtime = Runtime.create(make_settings(tmp_path, database_url))
    key = DEFAULT_SECRET_KEY
    with running(runtime):
        first = PaystackClient(base_url=paystack_server.url + "/", secret_key=key)
        async with first:
            started = await first.initialize(
                email="a@example.com", amount=5000, currency="NGN", reference="oja_pool_1"
            )
        assert started.reference == "oja_pool_1"
        second = PaystackClient(base_url=paystack_server.url, secret_key=key)
        other_key = PaystackClient(base_url=paystack_server.url, secret_key="sk_test_other")
        flutterwave = FlutterwaveClient(base_url="http://127.0.0.1:9", secret_key=key)
    assert second._http is first._http  # closing the first adapter left the pool's client open
    assert not first._http.is_closed
    assert len({id(c._http) for c in (first, other_key, flutterwave)}) == 3
    async with second:
        again = await second.initialize(
            email="a@example.com", amount=5000, currency="NGN", reference="oja_pool_2"
        )
    assert again.reference == "oja_pool_2"
    assert paystack.calls["initialize"] == 2
    await runtime.close()
    assert [c._http.is_closed for c in (first, other_key, flutterwave)] == [True, True, True]


async def test_an_adapter_outside_a_runtime_or_with_a_transport_owns_its_client() -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": True, "data": {}})

    alone = PaystackClient(base_url="http://127.0.0.1:9", secret_key="sk")
    mocked = PaystackClient(
        base_url="http://127.0.0.1:9", secret_key="sk", transport=httpx.MockTransport(handler)
    )
    assert alone._http is not mocked._http
    for adapter in (alone, mocked):
        await adapter.aclose()
        assert adapter._http.is_closed
