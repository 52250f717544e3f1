"""Orders without checkout: a store with stocked variants, and order groups written straight into
the tables as checkout would write them (stock reserved, lines snapshotted, the payment settled at
the Paystack fake and recorded by billing). Also the fixtures serving the Paystack fake over real
HTTP, and a recorder of the events the orders raise."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from oja.billing.models import Payment
from oja.core import events
from oja.core.clock import utcnow
from oja.core.config import Settings
from oja.core.db import unit_of_work
from oja.marketplace.catalog.models import ProductVariant
from oja.marketplace.orders.models import (
    GroupStatus,
    OrderGroup,
    OrderLine,
    OrderStatus,
    StoreOrder,
)
from oja.sandbox import paystack as paystack_fake
from oja.sandbox.paystack import PaystackFake, Transaction
from oja.sandbox.server import SandboxServer
from tests.billing.conftest import Served, Switch, billing_values
from tests.conftest import make_settings

from .conftest import Person, admin, approved_store, person

_refs = itertools.count(1)

EVENTS = (
    "order.updated",
    "order.confirmed",
    "order.shipped",
    "order.delivered",
    "order.canceled",
    "order.returned",
    "return.requested",
    "return.approved",
    "return.rejected",
    "return.received",
    "refund.processed",
)


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
    """The app's settings, its billing pointing at the Paystack fake."""
    return make_settings(tmp_path, database_url, **billing_values(paystack_server.url, ""))


class Heard:
    """Every order, return and refund event raised, in order: ``(name, payload)``."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self._handlers = {name: self._recorder(name) for name in EVENTS}

    def _recorder(self, name: str) -> Any:
        async def record(**payload: Any) -> None:
            self.seen.append((name, payload))

        return record

    def names(self) -> list[str]:
        return [name for name, _ in self.seen]

    def of(self, name: str) -> list[dict[str, Any]]:
        return [payload for seen, payload in self.seen if seen == name]


@pytest.fixture
def heard() -> Iterator[Heard]:
    recorder = Heard()
    for name, handler in recorder._handlers.items():
        events.subscribe(name, handler)
    yield recorder
    for name, handler in recorder._handlers.items():
        events._handlers[name].remove(handler)


@dataclass
class Shop:
    buyer: Person
    owner: Person
    store: dict[str, Any]
    product: dict[str, Any]
    people: dict[str, Person] = field(default_factory=dict)

    def variant(self, index: int = 0) -> dict[str, Any]:
        return dict(self.product["variants"][index])


async def shop(
    app: Any, client: httpx.AsyncClient, name: str = "Store A", boss: Person | None = None
) -> Shop:
    """An approved store selling one product with two variants (stock 10 each), and a buyer."""
    boss = boss or await admin(app, client)
    owner = await person(client, "vendor")
    store = await approved_store(client, owner, boss, name)
    tag = uuid.uuid4().hex[:6]
    created = await client.post(
        "/products",
        json={
            "title": f"Ankara shirt {tag}",
            "status": "active",
            "variants": [
                {"sku": f"SHIRT-M-{tag}", "price": 1000, "stock": 10},
                {"sku": f"SHIRT-L-{tag}", "price": 2500, "stock": 10},
            ],
        },
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    return Shop(await person(client), owner, store, created.json())


@dataclass
class Placed:
    group_id: str
    order_id: str
    line_ids: list[str]
    reference: str
    total: int


async def place(
    app: Any,
    paystack: PaystackFake | None,
    shop: Shop,
    lines: list[tuple[int, int]],
    *,
    status: OrderStatus = OrderStatus.confirmed,
    paid: bool = True,
    delivered_at: datetime | None = None,
    buyer: Person | None = None,
    unit_discount: int = 0,
) -> Placed:
    """One group with one store order of ``lines`` (variant index, quantity), written as checkout
    writes it: stock taken, line snapshots, the group paid (the Paystack transaction settled and
    billing's payment row successful) when ``paid``; the order put straight into ``status``."""
    buyer = buyer or shop.buyer
    buyer_id, vendor_id = uuid.UUID(buyer.id), uuid.UUID(shop.store["id"])
    now = utcnow()
    reference = f"oja-test-{next(_refs)}-{uuid.uuid4().hex[:8]}"
    async with unit_of_work(app.state.runtime.database) as db:
        rows = []
        for index, quantity in lines:
            variant = shop.variant(index)
            taken = await db.execute(
                update(ProductVariant)
                .where(
                    ProductVariant.id == uuid.UUID(variant["id"]),
                    ProductVariant.vendor_id == vendor_id,
                    ProductVariant.stock >= quantity,
                )
                .values(stock=ProductVariant.stock - quantity)
            )
            assert taken.rowcount == 1  # type: ignore[attr-defined]
            price = int(variant["price"])
            rows.append((variant, quantity, price, quantity * (price - unit_discount)))
        subtotal = sum(q * p for _, q, p, _ in rows)
        total = sum(t for *_, t in rows)
        group = OrderGroup(
            buyer_id=buyer_id,
            status=GroupStatus.paid if paid else GroupStatus.awaiting_payment,
            currency="NGN",
            subtotal=subtotal,
            discount_total=subtotal - total,
            total=total,
            shipping_address={"line1": "12 Allen Avenue", "city": "Ikeja"},
            provider="paystack",
            payment_reference=reference,
            expires_at=now + timedelta(minutes=30),
            paid_at=now if paid else None,
        )
        db.add(group)
        await db.flush()
        order = StoreOrder(
            vendor_id=vendor_id,
            group_id=group.id,
            buyer_id=buyer_id,
            status=str(status),
            currency="NGN",
            subtotal=subtotal,
            discount_total=subtotal - total,
            total=total,
            delivered_at=delivered_at
            or (now if status in (OrderStatus.delivered, OrderStatus.returned) else None),
        )
        db.add(order)
        await db.flush()
        made = [
            OrderLine(
                vendor_id=vendor_id,
                order_id=order.id,
                product_id=uuid.UUID(shop.product["id"]),
                variant_id=uuid.UUID(variant["id"]),
                title=shop.product["title"],
                sku=variant["sku"],
                options={},
                quantity=quantity,
                unit_price=price,
                unit_discount=unit_discount,
                line_total=line_total,
            )
            for variant, quantity, price, line_total in rows
        ]
        db.add_all(made)
        await db.flush()
        if paid:
            db.add(
                Payment(
                    user_id=buyer_id,
                    reference=reference,
                    amount=total,
                    currency="NGN",
                    email=buyer.email,
                    authorization_url=f"https://checkout.paystack.test/{reference}",
                    access_code=reference,
                    status="success",
                )
            )
            assert paystack is not None
            paystack.transactions[reference] = Transaction(
                id=next(paystack._ids),
                reference=reference,
                access_code=reference,
                amount=total,
                currency="NGN",
                email=buyer.email,
                metadata={},
                callback_url=None,
            )
            paystack.settle(reference, "success")
        ids = (str(group.id), str(order.id), [str(line.id) for line in made])
    return Placed(ids[0], ids[1], ids[2], reference, total)


async def stock_of(client: httpx.AsyncClient, shop: Shop, index: int = 0) -> int:
    found = await client.get(f"/products/{shop.product['id']}", headers=shop.owner.headers)
    assert found.status_code == 200, found.text
    return int(found.json()["variants"][index]["stock"])


def webhook_headers(body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-paystack-signature": paystack_fake.sign(paystack_fake.DEFAULT_SECRET_KEY, body),
    }
