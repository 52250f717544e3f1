"""Cart and checkout test helpers: the Paystack fake over real HTTP with billing pointed at it,
approved stores with active products, carts filled and paid through the API."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from oja.core.config import Settings
from oja.sandbox import paystack as paystack_fake
from oja.sandbox.paystack import PaystackFake
from oja.sandbox.server import SandboxServer
from tests.billing.conftest import Switch, paystack_headers
from tests.conftest import Jobs, make_settings

from .conftest import Person, admin, approved_store, person

ADDRESS = {
    "name": "Ada Obi",
    "line1": "12 Allen Avenue",
    "city": "Ikeja",
    "state": "Lagos",
    "country": "NG",
    "phone": "+2348012345678",
}
WEBHOOK = "/payments/paystack/webhook"


@dataclass
class Served:
    switch: Switch
    url: str


@pytest.fixture(scope="session")
def paystack_server() -> Iterator[Served]:
    switch = Switch()
    with SandboxServer(switch) as server:
        yield Served(switch, server.url)


@pytest.fixture
def paystack(paystack_server: Served) -> PaystackFake:
    fake = PaystackFake()
    paystack_server.switch.app = fake.app
    return fake


@pytest.fixture
def settings(tmp_path: Path, database_url: str, paystack_server: Served) -> Settings:
    """Billing pointed at the Paystack fake."""
    return make_settings(
        tmp_path,
        database_url,
        paystack_base_url=paystack_server.url,
        paystack_secret_key=paystack_fake.DEFAULT_SECRET_KEY,
        # 200 concurrent checkouts in one event loop on a shared 2-core box queue for a
        # connection longer than production's 5 s; the race is about stock, not latency.
        database_pool_timeout=60.0,
    )


@dataclass
class Store:
    owner: Person
    store: dict[str, Any]
    products: list[dict[str, Any]]

    @property
    def id(self) -> str:
        return str(self.store["id"])

    def variant(self, product: int = 0, variant: int = 0) -> dict[str, Any]:
        return dict(self.products[product]["variants"][variant])


async def shop(
    app: Any,
    client: httpx.AsyncClient,
    name: str,
    variants: list[dict[str, Any]],
    *,
    boss: Person | None = None,
) -> Store:
    """An approved store with one active product per variant given (``sku``, ``price``,
    ``stock``, optionally ``currency``)."""
    boss = boss or await admin(app, client)
    owner = await person(client, "vendor")
    store = await approved_store(client, owner, boss, name)
    products = []
    for variant in variants:
        created = await client.post(
            "/products",
            json={"title": f"{name} {variant['sku']}", "status": "active", "variants": [variant]},
            headers=owner.headers,
        )
        assert created.status_code == 201, created.text
        products.append(created.json())
    return Store(owner, store, products)


async def add(
    client: httpx.AsyncClient, buyer: Person, variant_id: str, quantity: int = 1
) -> httpx.Response:
    return await client.post(
        "/cart/items", json={"variant_id": variant_id, "quantity": quantity}, headers=buyer.headers
    )


async def checkout(
    client: httpx.AsyncClient, buyer: Person, key: str | None = None, **body: Any
) -> httpx.Response:
    headers = dict(buyer.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post(
        "/checkout", json={"shipping_address": ADDRESS, **body}, headers=headers
    )


async def paid_webhook(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs, reference: str
) -> list[str]:
    """The buyer pays on the fake; its charge.success webhook arrives; the inbox job runs. Answers
    the outcomes of billing's jobs (the confirmations' notifications and pushes run beside them)."""
    transaction = paystack.settle(reference, "success")
    body = paystack.webhook_body("charge.success", transaction)
    answer = await client.post(WEBHOOK, content=body, headers=paystack_headers(body))
    assert answer.status_code == 200, answer.text
    ran = await jobs.run_kinds(app)
    return [outcome for kind, outcome in ran if kind.startswith("billing.")]


def new_key() -> str:
    return uuid.uuid4().hex
