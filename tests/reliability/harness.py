"""What the reliability tests share: the app's operations, the sandbox fakes wired in, principals
(users, an admin, API keys) and the objects each route needs, made through the public API.

Everything here talks HTTP to the app (an ``httpx.AsyncClient`` on the ASGI transport or on a real
socket), so it works the same for the fuzzer, the authorization matrix and the load test.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import select

from oja.core.db import Base, unit_of_work
from oja.identity import service as identity_service
from oja.identity.config import GoogleSettings, IdentitySettings, get_google_settings
from oja.identity.passwords import get_passwords
from oja.identity.scopes import SCOPES
from oja.sandbox import aliexpress
from oja.sandbox.flutterwave import FlutterwaveFake
from oja.sandbox.google import GoogleClient, GoogleFake, GoogleUser
from oja.sandbox.paystack import PaystackFake
from oja.sandbox.server import SandboxServer
from oja.sandbox.stripe import StripeFake
from tests.billing.conftest import billing_values
from tests.conftest import use_settings

PASSWORD = "correct horse battery"
GOOGLE_CLIENT_ID = "oja-reliability.apps.googleusercontent.com"
GOOGLE_CLIENT_SECRET = "GOCSPX-oja-reliability"  # noqa: S105 - the fake's test value
GOOGLE_REDIRECT = "http://testserver/auth/google/callback"
_emails = itertools.count()

# Routes FastAPI adds for the documentation itself; they are not part of Oja's API.
DOC_ROUTES = {("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect")}
DOC_ROUTES |= {("GET", "/redoc")}


def env_int(name: str, ci: int, soak: int) -> int:
    """``name`` from the environment, else the soak size under ``OJA_SOAK=1``, else the CI size."""
    if os.environ.get(name):
        return int(os.environ[name])
    return soak if os.environ.get("OJA_SOAK") == "1" else ci


def soak() -> bool:
    return os.environ.get("OJA_SOAK") == "1"


def app_operations(app: FastAPI) -> set[tuple[str, str]]:
    """Every (METHOD, path template) the app routes, schema-listed or not, docs excluded.

    FastAPI 0.165 keeps included routers as branches; they are walked here. Paths use the
    OpenAPI spelling (``{key}`` for a ``{key:path}`` converter).
    """
    found: set[tuple[str, str]] = set()

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            if type(route).__name__ == "_IncludedRouter":
                walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif isinstance(route, APIRoute):
                path = (prefix + route.path).replace(":path}", "}")
                for method in route.methods:
                    if method not in {"HEAD", "OPTIONS"}:
                        found.add((method, path))
            elif hasattr(route, "methods") and getattr(route, "path", None):
                for method in route.methods or ():
                    if method not in {"HEAD", "OPTIONS"}:
                        found.add((method, route.path))

    walk(list(app.router.routes), "")
    return found - DOC_ROUTES


def openapi_operations(app: FastAPI) -> set[tuple[str, str]]:
    document = app.openapi()
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    }


async def table_rows(app: FastAPI) -> dict[str, list[str]]:
    """Every row of every table, as text, in a stable order: two snapshots compare equal when a
    request wrote nothing."""
    async with app.state.runtime.database.engine.connect() as conn:
        return {
            table.name: sorted(repr(tuple(row)) for row in await conn.execute(select(table)))
            for table in Base.metadata.sorted_tables
        }


Rows = dict[str, list[dict[str, Any]]]


async def dump_rows(app: FastAPI) -> Rows:
    """Every row of every non-empty table, as column values (see :func:`restore_rows`)."""
    dumped: Rows = {}
    async with app.state.runtime.database.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = [dict(row._mapping) for row in await conn.execute(select(table))]
            if rows:
                dumped[table.name] = rows
    return dumped


def added_rows(before: Rows, after: Rows) -> Rows:
    """The rows of ``after`` that ``before`` (both from :func:`dump_rows`) did not hold."""
    added = {
        name: [row for row in rows if row not in before.get(name, [])]
        for name, rows in after.items()
    }
    return {name: rows for name, rows in added.items() if rows}


async def restore_rows(app: FastAPI, dumped: Rows) -> None:
    """Write ``dumped`` (from :func:`dump_rows` or :func:`added_rows`) into the app's database,
    parents first: a database in the state the dumped rows were added to then holds what it held
    when they were dumped (``table_rows`` equal). A row already there fails the insert, loudly.

    Integer keys keep their values; nothing draws them again (PostgreSQL's sequences only grow
    across the emptying, SQLite's next rowid is above the largest written)."""
    async with app.state.runtime.database.engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in dumped:
                await conn.execute(table.insert(), dumped[table.name])


@dataclass
class Fakes:
    """The third parties an app talks to, as sandbox fakes on real sockets."""

    paystack: PaystackFake
    stripe: StripeFake
    google: GoogleFake
    paystack_url: str
    stripe_url: str
    google_url: str
    flutterwave: FlutterwaveFake
    flutterwave_url: str

    def install(self, app: FastAPI) -> None:
        app.state.sandbox_fakes = self  # needs that script a fake (an OTP-held transfer) find it
        use_settings(
            app,
            **billing_values(self.paystack_url, self.stripe_url, self.flutterwave_url),
            # Connecting to AliExpress only builds a URL; no route of the matrix reaches the gateway.
            aliexpress_app_key=aliexpress.DEFAULT_APP_KEY,
            aliexpress_app_secret=aliexpress.DEFAULT_APP_SECRET,
        )
        google = GoogleSettings(
            google_discovery_url=f"{self.google_url}/.well-known/openid-configuration",
            google_client_id=GOOGLE_CLIENT_ID,
            google_client_secret=GOOGLE_CLIENT_SECRET,
            google_redirect_uri=GOOGLE_REDIRECT,
        )
        app.dependency_overrides[get_google_settings] = lambda: google

    @staticmethod
    def uninstall(app: FastAPI) -> None:
        app.dependency_overrides.pop(get_google_settings, None)


@contextmanager
def sandbox_fakes() -> Iterator[Fakes]:
    paystack = PaystackFake()
    stripe = StripeFake()
    google = GoogleFake(
        clients=[GoogleClient(GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, (GOOGLE_REDIRECT,))],
        user=GoogleUser(sub="2001", email="fuzz@example.com", name="Fuzz", picture=None),
    )
    flutterwave = FlutterwaveFake()
    with ExitStack() as stack:
        servers = [
            stack.enter_context(SandboxServer(f.app))
            for f in (paystack, stripe, google, flutterwave)
        ]
        google.issuer = servers[2].url
        yield Fakes(
            paystack,
            stripe,
            google,
            servers[0].url,
            servers[1].url,
            servers[2].url,
            flutterwave,
            servers[3].url,
        )


def unique_email(tag: str = "rel") -> str:
    return f"{tag}{next(_emails)}-{uuid.uuid4().hex[:8]}@example.com"


@dataclass
class Person:
    id: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def signup_and_login(client: httpx.AsyncClient, tag: str = "rel") -> Person:
    email = unique_email(tag)
    created = await client.post("/auth/signup", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    return await login(client, created.json()["id"], email)


async def login(client: httpx.AsyncClient, user_id: str, email: str) -> Person:
    response = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return Person(user_id, email, response.json()["access_token"])


async def make_admin(app: FastAPI, client: httpx.AsyncClient) -> Person:
    email = unique_email("admin")
    # Hashed as the app's own settings say (a test's cheaper argon2 parameters included): the
    # environment's settings, which code outside a request would read, may differ.
    passwords = get_passwords(app.state.runtime.settings.section(IdentitySettings))
    async with unit_of_work(app.state.runtime.database) as db:
        user = await identity_service.create_admin(
            db, email=email, password=PASSWORD, passwords=passwords
        )
    return await login(client, str(user.id), email)


async def create_key(
    client: httpx.AsyncClient, owner: Person, scopes: list[str] | frozenset[str]
) -> tuple[str, dict[str, str]]:
    response = await client.post(
        "/keys/create",
        json={"name": "reliability", "scopes": sorted(scopes)},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"], {"X-API-Key": response.json()["key"]}


@dataclass
class Principals:
    """User A (the owner of every object), user B, an admin, and A's keys with and without
    a route's scope."""

    a: Person
    b: Person
    admin: Person
    key_all: dict[str, str]
    keys_without: dict[str, dict[str, str]] = field(default_factory=dict)


async def principals(app: FastAPI, client: httpx.AsyncClient) -> Principals:
    a = await signup_and_login(client, "a")
    b = await signup_and_login(client, "b")
    admin = await make_admin(app, client)
    _, key_all = await create_key(client, a, SCOPES)
    return Principals(a=a, b=b, admin=admin, key_all=key_all)


async def key_without(
    client: httpx.AsyncClient, people: Principals, scope: str | None
) -> dict[str, str]:
    """A key of A's holding every scope but ``scope`` (``None``: a key with one unrelated scope)."""
    name = scope or "-"
    if name not in people.keys_without:
        scopes = SCOPES - {scope} if scope else frozenset({"examples:read"})
        _, people.keys_without[name] = await create_key(client, people.a, scopes)
    return people.keys_without[name]


TEXT_FILE = b"Reliability harness: a small text file.\n" * 4


async def upload_file(client: httpx.AsyncClient, owner: Person) -> str:
    response = await client.post(
        "/upload",
        files={"file": ("notes.txt", TEXT_FILE, "text/plain")},
        headers=owner.headers,
    )
    assert response.status_code in {201, 202}, response.text
    return str(response.json()["id"])


async def upload_document(client: httpx.AsyncClient, owner: Person) -> str:
    body = b"Invoice INV-1. Total due NGN 1,000.00. Payment terms: 30 days.\n" * 3
    response = await client.post(
        "/documents/upload",
        files={"file": ("invoice.txt", body, "text/plain")},
        headers=owner.headers,
    )
    assert response.status_code in {201, 202}, response.text
    return str(response.json()["document_id"])


async def create_chatroom(client: httpx.AsyncClient, owner: Person) -> str:
    response = await client.post("/chatroom", json={"title": "harness"}, headers=owner.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def send_message(client: httpx.AsyncClient, owner: Person, chatroom_id: str) -> str:
    response = await client.post(
        f"/chatroom/{chatroom_id}/message", json={"content": "hello"}, headers=owner.headers
    )
    assert response.status_code in {200, 201, 202}, response.text
    return str(response.json()["user_message"]["id"])


async def initiate_payment(client: httpx.AsyncClient, owner: Person) -> str:
    response = await client.post(
        "/payments/paystack/initiate",
        json={"amount": 5000},
        headers={**owner.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code in {200, 201}, response.text
    return str(response.json()["reference"])
