"""Billing test helpers: the Paystack and Stripe fakes over real HTTP, billing settings pointing at
them, jobs captured and run in-process, users with tokens, signed webhook bodies, row counts."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from oja.billing.config import BillingSettings
from oja.core.config import Settings
from oja.sandbox import flutterwave as flutterwave_fake
from oja.sandbox import paystack as paystack_fake
from oja.sandbox import stripe as stripe_fake
from oja.sandbox.flutterwave import FlutterwaveFake
from oja.sandbox.paystack import PaystackFake
from oja.sandbox.server import SandboxServer
from oja.sandbox.stripe import StripeFake
from tests.conftest import make_settings, use_settings

PASSWORD = "correct horse battery"
_emails = itertools.count()
BILLING_TABLES = ("payment", "refund", "ledger_entry", "webhook_event", "subscription", "job")


class Switch:
    """Serves whichever fake the running test installed: one server per module, a fresh fake per test."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        await self.app(scope, receive, send)


@dataclass
class Served:
    switch: Switch
    url: str


@pytest.fixture(scope="session")
def paystack_server() -> Iterator[Served]:
    switch = Switch()
    with SandboxServer(switch) as server:
        yield Served(switch, server.url)


@pytest.fixture(scope="session")
def stripe_server() -> Iterator[Served]:
    switch = Switch()
    with SandboxServer(switch) as server:
        yield Served(switch, server.url)


@pytest.fixture(scope="session")
def flutterwave_server() -> Iterator[Served]:
    switch = Switch()
    with SandboxServer(switch) as server:
        yield Served(switch, server.url)


@pytest.fixture
def flutterwave(flutterwave_server: Served) -> FlutterwaveFake:
    fake = FlutterwaveFake()
    flutterwave_server.switch.app = fake.app
    return fake


@pytest.fixture
def paystack(paystack_server: Served) -> PaystackFake:
    fake = PaystackFake()
    paystack_server.switch.app = fake.app
    return fake


@pytest.fixture
def stripe(stripe_server: Served) -> StripeFake:
    fake = StripeFake()
    stripe_server.switch.app = fake.app
    return fake


def billing_values(
    paystack_url: str,
    stripe_url: str,
    flutterwave_url: str = "http://127.0.0.1:9",
    **overrides: Any,
) -> dict[str, Any]:
    """Billing settings (field name → value) pointing at the fakes."""
    values: dict[str, Any] = {
        "flutterwave_base_url": flutterwave_url,
        "flutterwave_secret_key": flutterwave_fake.DEFAULT_SECRET_KEY,
        "flutterwave_secret_hash": flutterwave_fake.DEFAULT_SECRET_HASH,
        "flutterwave_redirect_url": "http://testserver/payments/flutterwave/return",
        "paystack_base_url": paystack_url,
        "paystack_secret_key": paystack_fake.DEFAULT_SECRET_KEY,
        "stripe_api_base": stripe_url,
        "stripe_secret_key": stripe_fake.DEFAULT_SECRET_KEY,
        "stripe_webhook_secret": stripe_fake.DEFAULT_WEBHOOK_SECRET,
        "stripe_pro_price_id": stripe_fake.DEFAULT_PRICE_ID,
    }
    values.update(overrides)
    return values


def billing_settings(paystack_url: str, stripe_url: str, **overrides: Any) -> BillingSettings:
    return BillingSettings(**billing_values(paystack_url, stripe_url, **overrides))


@pytest.fixture
def settings(
    tmp_path: Path,
    database_url: str,
    paystack_server: Served,
    stripe_server: Served,
    flutterwave_server: Served,
) -> Settings:
    """The app's settings, its billing pointing at the fakes."""
    values = billing_values(paystack_server.url, stripe_server.url, flutterwave_server.url)
    return make_settings(tmp_path, database_url, **values)


def override_settings(app: Any, **changes: Any) -> BillingSettings:
    return use_settings(app, **changes).section(BillingSettings)


async def new_user(client: httpx.AsyncClient, email: str | None = None) -> dict[str, str]:
    """Sign up and log in; returns ``{"id", "email", "Authorization"}``-style headers and facts."""
    email = email or f"payer{next(_emails)}-{uuid.uuid4().hex[:6]}@example.com"
    created = await client.post("/auth/signup", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {
        "id": created.json()["id"],
        "email": email,
        "Authorization": f"Bearer {login.json()['access_token']}",
    }


def auth(user: dict[str, str], **extra: str) -> dict[str, str]:
    return {"Authorization": user["Authorization"], **extra}


async def count(app: Any, table: str, where: str = "") -> int:
    async with app.state.runtime.database.engine.connect() as conn:
        query = select(func.count()).select_from(text(f'"{table}"'))
        if where:
            query = query.where(text(where))
        return int((await conn.execute(query)).scalar_one())


async def counts(app: Any) -> dict[str, int]:
    return {table: await count(app, table) for table in BILLING_TABLES}


async def rows(app: Any, sql: str) -> list[Any]:
    async with app.state.runtime.database.engine.connect() as conn:
        return list((await conn.execute(text(sql))).all())


def paystack_event(event: str, reference: str, **data: Any) -> bytes:
    return json.dumps({"event": event, "data": {"reference": reference, **data}}).encode()


def paystack_headers(body: bytes, secret: str = paystack_fake.DEFAULT_SECRET_KEY) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-paystack-signature": paystack_fake.sign(secret, body),
    }


async def initiate(
    client: httpx.AsyncClient, user: dict[str, str], amount: int = 5000, **headers: str
) -> httpx.Response:
    return await client.post(
        "/payments/paystack/initiate", json={"amount": amount}, headers=auth(user, **headers)
    )
