"""Mass assignment: fields a caller may not set are ignored or rejected on every write route.

Every POST, PUT and PATCH the app serves is either a case in ``CASES`` or exempt in ``EXEMPT`` with
a reason; a new write route with neither fails ``test_every_write_route_is_covered``, and an exempt
route that grows a JSON body fails it too, so no body can slip through unexamined.

Each case sends the route's legitimate request (built by the authorization matrix's builders where
they make a successful one, ``tests/reliability/matrix.py``) with hostile extra fields: ``role``,
``roles``, ``is_admin``, ``owner_id``/``user_id`` naming user B, the most privileged ``status`` of
the resource, ``amount``, ``id``, ``created_at``, ``email_verified``, ``plan``/``tier``, every scope,
plus the route's own dangerous fields (a message's ``role: assistant``, a payment's ``reference``,
a checkout's ``price`` …). A field the route legitimately takes (read from its OpenAPI request
schema) is never sent as hostile. Then exactly one of two outcomes is proven:

* ``rejected``: 422 naming exactly the hostile fields as ``extra_forbidden``, not one row of any
  table added or removed, and the same request without them then succeeds (so the refusal was for
  the extras, and nothing the request needed — a one-time code, say — was spent);
* ``ignored``: 2xx, and every hostile value is shown to have had no effect — through the API
  (``GET /user/me``, the resource as its owner and as user B, the admin routes) and, where the API
  does not show it, in the database or in the sandbox provider that received the call.

The routes without a body (a checkout, a key rotation, a role grant, MFA setup) and the multipart
uploads are sent the same hostile fields, as JSON or as form fields, and must ignore them too.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import pytest
from sqlalchemy import func, select

from oja.billing import repository as billing_repository
from oja.billing.config import BillingSettings
from oja.billing.models import LedgerEntry, Payment, Refund
from oja.chat.models import ChatMessage, Chatroom
from oja.core.clock import utcnow
from oja.core.db import Base, unit_of_work
from oja.core.jobs.runner import execute
from oja.documents.models import Document
from oja.files.models import File
from oja.identity.config import get_identity_settings
from oja.identity.mfa.models import UserMfa
from oja.identity.models import OneTimeToken
from oja.identity.scopes import SCOPES, Role
from oja.marketplace.ledger.models import Dispute, DisputeStatus
from oja.marketplace.orders.models import OrderGroup
from oja.marketplace.reviews.models import ReviewFlag
from oja.sandbox import stripe as stripe_fake
from oja.sandbox.paystack_records import DisputeRecord
from oja.sandbox.paystack_records import Transaction as PaystackTransaction
from oja.sandbox.smtp import SmtpCapture
from tests.identity.support import token_in, totp_now, use_smtp
from tests.reliability import harness
from tests.reliability.authorization import restored
from tests.reliability.conftest import DroppedJobs
from tests.reliability.harness import PASSWORD, Fakes, Person, Principals
from tests.reliability.marketplace_needs import MARKETPLACE_NEEDS
from tests.reliability.matrix import ROUTES, Ctx, mobile

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})
HOSTILE_ID = "0193a1f2-dead-7bee-8f00-0000000000ff"
LONG_AGO = "2000-01-01T00:00:00Z"
HOSTILE_OTP = "1234567"  # seven digits: never a code the server generates by chance
HOSTILE_TOTP_SECRET = "JBSWY3DPEHPK3PXP"
HOSTILE_RECOVERY_CODES = ["hostile-code-0001", "hostile-code-0002"]
EVIL_URL = "https://evil.example/owned"
NEW_PASSWORD = "another horse battery 2"  # the matrix's change-password body sets this one

Json = dict[str, Any]


@dataclass
class Run:
    """One case's world: the app, the principals (A sends, B is the victim), the sandbox fakes,
    the dropped jobs (run on demand), and what the case's arrange step left for its check."""

    app: Any
    client: httpx.AsyncClient
    people: Principals
    fakes: Fakes
    jobs: DroppedJobs
    stack: ExitStack
    ids: dict[str, str] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def a(self) -> Person:
        return self.people.a

    @property
    def b(self) -> Person:
        return self.people.b

    def ctx(self, caller: Person | None) -> Ctx:
        return Ctx(self.client, self.people, caller, self.ids, self.run_jobs, self.app)

    async def run_jobs(self) -> None:
        while self.jobs.published:
            await execute(str(self.jobs.published.pop(0)), self.app.state.runtime)


Arrange = Callable[[Run], Awaitable[None]]
Request = Callable[[Run], Awaitable[Json]]
Check = Callable[[Run, httpx.Response], Awaitable[None]]
Extra = Callable[[Run], Json]


@dataclass(frozen=True)
class Case:
    outcome: Literal["ignored", "rejected"]
    check: Check
    """``ignored``: runs on the hostile request's answer. ``rejected``: on the legitimate retry's."""
    caller: Literal["anon", "a", "admin"] = "a"
    arrange: Arrange | None = None
    request: Request | None = None
    """The legitimate request; by default the authorization matrix's builder for the route."""
    status: str = "succeeded"
    """The most privileged status of the route's resource."""
    extra: Extra | None = None
    """The route's own hostile fields (overriding the standard ones of the same name)."""
    merits: tuple[int, str] | None = None
    """``rejected`` only: the legitimate retry's own (status, error code) when the harness cannot
    make it succeed (no AliExpress connection, no paid plan to change) — the refusal is still proven
    to be the extras', and the retry is refused for its own reason."""


# Helpers


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def me(run: Run, headers: Mapping[str, str]) -> Json:
    response = await run.client.get("/user/me", headers=dict(headers))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def assert_plain_user(run: Run, headers: Mapping[str, str], user_id: str | None) -> Json:
    """The token is ``user_id``'s (a new account when None), a buyer, and no admin."""
    profile = await me(run, headers)
    if user_id is None:
        assert profile["id"] not in {run.a.id, run.b.id}
    else:
        assert profile["id"] == user_id
    assert profile["roles"] == [Role.buyer.value]
    admin_only = await run.client.get("/users", headers=dict(headers))
    assert admin_only.status_code == 403, admin_only.text
    return profile


async def assert_b_untouched(run: Run, *, password: bool = False) -> None:
    """B signed up with an email and a password and did nothing else (``password``: B's password
    still works, for the routes that set one)."""
    profile = await me(run, run.b.headers)
    assert profile["roles"] == [Role.buyer.value]
    assert profile["email"] == run.b.email
    assert profile["mobile"] is None
    assert profile["email_verified"] is False
    assert profile["mobile_verified"] is False
    if password:
        assert (await password_login(run, run.b.email, PASSWORD)).status_code == 200


async def password_login(run: Run, email: str, password: str) -> httpx.Response:
    return await run.client.post("/auth/login", json={"email": email, "password": password})


async def scalars(run: Run, statement: Any) -> list[Any]:
    async with unit_of_work(run.app.state.runtime.database) as db:
        return list((await db.scalars(statement)).all())


async def table_counts(app: Any) -> dict[str, int]:
    async with app.state.runtime.database.engine.connect() as conn:
        return {
            table.name: int((await conn.execute(select(func.count()).select_from(table))).scalar())
            for table in Base.metadata.sorted_tables
        }


async def principals(app: Any, client: httpx.AsyncClient, *, admin: bool) -> Principals:
    """Users A and B as ``harness.principals`` makes them, without its API key (no case uses one)
    and with the admin only for a case that calls as one. Without one, B (a buyer) fills the
    admin's seat, which the matrix's builders never read. Made through the API by a backend's
    first case and restored from their rows for the next (``authorization.restored``)."""

    async def make() -> Principals:
        a = await harness.signup_and_login(client, "a")
        b = await harness.signup_and_login(client, "b")
        seat = await harness.make_admin(app, client) if admin else b
        return Principals(a=a, b=b, admin=seat, key_all={})

    return await restored(app, client, f"mass-assignment admin={admin}", make)


def matrix_request(method: str, path: str) -> Request:
    """The authorization matrix's legitimate request for the route, as user A (none: no body)."""
    builder = ROUTES[(method, path)].request

    async def build(run: Run) -> Json:
        return dict(await builder(run.ctx(run.a))) if builder is not None else {}

    return build


async def mfa_enabled(run: Run, person: Person) -> tuple[str, list[str]]:
    """Set up and enable TOTP for ``person``: the secret and the recovery codes."""
    setup = await run.client.post("/auth/mfa/setup", headers=person.headers)
    assert setup.status_code == 200, setup.text
    secret = str(setup.json()["secret"])
    enabled = await run.client.post(
        "/auth/mfa/enable", json={"code": totp_now(secret, utcnow())}, headers=person.headers
    )
    assert enabled.status_code == 200, enabled.text
    return secret, list(enabled.json()["recovery_codes"])


async def otp_for(run: Run, number: str) -> str:
    sent = await run.client.post("/auth/send-otp", json={"mobile": number})
    assert sent.status_code == 200, sent.text
    return str(sent.json()["otp"])


async def paid_payment(run: Run, person: Person) -> str:
    reference = await harness.initiate_payment(run.client, person)
    run.fakes.paystack.settle(reference, "success")
    status = await run.client.get(
        f"/payments/{reference}/status?refresh=true", headers=person.headers
    )
    assert status.json()["status"] == "success", status.text
    return reference


# Identity


async def check_signup(run: Run, response: httpx.Response) -> None:
    created = response.json()
    assert created["roles"] == [Role.buyer.value]
    assert created["email_verified"] is False
    login = await password_login(run, created["email"], PASSWORD)
    assert login.status_code == 200, login.text
    await assert_plain_user(run, bearer(login.json()["access_token"]), created["id"])


async def check_tokens_of_a(run: Run, response: httpx.Response) -> None:
    profile = await assert_plain_user(run, bearer(response.json()["access_token"]), run.a.id)
    assert profile["email_verified"] is False
    assert profile["mobile"] is None
    await assert_b_untouched(run)


async def check_change_password(run: Run, response: httpx.Response) -> None:
    assert (await password_login(run, run.a.email, NEW_PASSWORD)).status_code == 200
    assert (await password_login(run, run.a.email, "hostile horse battery")).status_code == 401
    profile = await assert_plain_user(run, run.a.headers, run.a.id)
    assert profile["email"] == run.a.email
    assert profile["mobile"] is None
    await assert_b_untouched(run, password=True)


async def check_send_otp(run: Run, response: httpx.Response) -> None:
    sent = response.json()
    assert sent["otp"] != HOSTILE_OTP
    assert sent["expires_in"] == get_identity_settings().otp_ttl
    number = run.state["mobile"]
    verified = await run.client.post(
        "/auth/verify-otp", json={"mobile": number, "otp": sent["otp"]}
    )
    assert verified.status_code == 200, verified.text
    profile = await assert_plain_user(run, bearer(verified.json()["access_token"]), None)
    assert profile["mobile"] == number
    await assert_b_untouched(run)


async def send_otp_request(run: Run) -> Json:
    run.state["mobile"] = mobile()
    return {"json": {"mobile": run.state["mobile"]}}


async def verify_otp_request(run: Run) -> Json:
    number = mobile()
    run.state["mobile"] = number
    return {"json": {"mobile": number, "otp": await otp_for(run, number)}}


async def check_verify_otp(run: Run, response: httpx.Response) -> None:
    profile = await assert_plain_user(run, bearer(response.json()["access_token"]), None)
    assert profile["mobile"] == run.state["mobile"]
    assert profile["email"] is None
    assert profile["email_verified"] is False
    await assert_b_untouched(run)


async def forgot_request(run: Run) -> Json:
    return {"json": {"email": run.a.email}}


async def check_forgot(run: Run, response: httpx.Response) -> None:
    issued = await scalars(
        run, select(OneTimeToken.purpose).where(OneTimeToken.user_id == uuid.UUID(run.a.id))
    )
    assert issued == ["password_reset"]
    await assert_b_untouched(run)


async def arrange_reset(run: Run) -> None:
    """User C with a mobile number asks for a reset OTP (answered in the response here)."""
    email, number = harness.unique_email("c"), mobile()
    created = await run.client.post(
        "/auth/signup", json={"email": email, "mobile": number, "password": PASSWORD}
    )
    assert created.status_code == 201, created.text
    forgot = await run.client.post("/auth/forgot-password", json={"mobile": number})
    assert forgot.status_code == 200, forgot.text
    run.state.update(email=email, mobile=number, otp=forgot.json()["otp"])


async def reset_request(run: Run) -> Json:
    return {
        "json": {
            "mobile": run.state["mobile"],
            "otp": run.state["otp"],
            "new_password": NEW_PASSWORD,
        }
    }


async def check_reset(run: Run, response: httpx.Response) -> None:
    assert (await password_login(run, run.state["email"], NEW_PASSWORD)).status_code == 200
    await assert_b_untouched(run, password=True)


async def arrange_email_link(run: Run) -> None:
    smtp = run.stack.enter_context(SmtpCapture())
    use_smtp(run.app, smtp.port)
    sent = await run.client.post("/auth/verify/email/request", headers=run.a.headers)
    assert sent.status_code == 200, sent.text
    (mail,) = smtp.messages
    run.state["token"] = token_in(mail.text or "")


async def email_confirm_request(run: Run) -> Json:
    return {"json": {"token": run.state["token"]}}


async def check_email_confirm(run: Run, response: httpx.Response) -> None:
    assert response.json() == {
        "user_id": run.a.id,
        "email_verified": True,
        "mobile_verified": False,
    }
    profile = await assert_plain_user(run, run.a.headers, run.a.id)
    assert (profile["email"], profile["email_verified"]) == (run.a.email, True)
    assert (profile["mobile"], profile["mobile_verified"]) == (None, False)
    await assert_b_untouched(run)


async def phone_request_request(run: Run) -> Json:
    run.state["mobile"] = mobile()
    return {"json": {"mobile": run.state["mobile"]}}


async def check_phone_request(run: Run, response: httpx.Response) -> None:
    sent = response.json()
    assert sent["otp"] != HOSTILE_OTP
    profile = await assert_plain_user(run, run.a.headers, run.a.id)
    assert (profile["mobile"], profile["mobile_verified"]) == (None, False)
    # The code was issued to A, for the number A gave: A confirms it.
    confirmed = await run.client.post(
        "/auth/verify/phone/confirm", json={"otp": sent["otp"]}, headers=run.a.headers
    )
    assert confirmed.status_code == 200, confirmed.text
    profile = await me(run, run.a.headers)
    assert (profile["mobile"], profile["mobile_verified"]) == (run.state["mobile"], True)
    await assert_b_untouched(run)


async def arrange_phone_confirm(run: Run) -> None:
    run.state["mobile"] = mobile()
    sent = await run.client.post(
        "/auth/verify/phone/request", json={"mobile": run.state["mobile"]}, headers=run.a.headers
    )
    assert sent.status_code == 200, sent.text
    run.state["otp"] = sent.json()["otp"]


async def phone_confirm_request(run: Run) -> Json:
    return {"json": {"otp": run.state["otp"]}}


async def check_phone_confirm(run: Run, response: httpx.Response) -> None:
    assert response.json() == {
        "user_id": run.a.id,
        "email_verified": False,
        "mobile_verified": True,
    }
    profile = await assert_plain_user(run, run.a.headers, run.a.id)
    assert (profile["mobile"], profile["mobile_verified"]) == (run.state["mobile"], True)
    assert profile["email_verified"] is False
    await assert_b_untouched(run)


async def arrange_mfa_setup(run: Run) -> None:
    setup = await run.client.post("/auth/mfa/setup", headers=run.a.headers)
    assert setup.status_code == 200, setup.text
    run.state["secret"] = setup.json()["secret"]


async def mfa_enable_request(run: Run) -> Json:
    return {"json": {"code": totp_now(run.state["secret"], utcnow())}}


async def check_mfa_enable(run: Run, response: httpx.Response) -> None:
    codes = response.json()["recovery_codes"]
    assert not set(codes) & set(HOSTILE_RECOVERY_CODES)
    challenge = await password_login(run, run.a.email, PASSWORD)
    assert challenge.json().get("mfa_required") is True, challenge.text
    mfa_token = challenge.json()["mfa_token"]
    hostile = await run.client.post(
        "/auth/mfa/verify",
        json={"mfa_token": mfa_token, "recovery_code": HOSTILE_RECOVERY_CODES[0]},
    )
    assert hostile.status_code == 401, hostile.text
    real = await run.client.post(
        "/auth/mfa/verify", json={"mfa_token": mfa_token, "recovery_code": codes[0]}
    )
    assert real.status_code == 200, real.text
    await assert_plain_user(run, bearer(real.json()["access_token"]), run.a.id)
    b_login = await password_login(run, run.b.email, PASSWORD)
    assert "access_token" in b_login.json(), b_login.text  # B has no second factor
    assert await scalars(run, select(UserMfa.user_id)) == [uuid.UUID(run.a.id)]


async def arrange_mfa_login(run: Run) -> None:
    _, codes = await mfa_enabled(run, run.a)
    challenge = await password_login(run, run.a.email, PASSWORD)
    assert challenge.json().get("mfa_required") is True, challenge.text
    run.state.update(mfa_token=challenge.json()["mfa_token"], codes=codes)


async def mfa_verify_request(run: Run) -> Json:
    return {"json": {"mfa_token": run.state["mfa_token"], "recovery_code": run.state["codes"][0]}}


async def arrange_mfa_both(run: Run) -> None:
    run.state["secret"], _ = await mfa_enabled(run, run.a)
    await mfa_enabled(run, run.b)


async def mfa_disable_request(run: Run) -> Json:
    # The enabling code's step is spent: the next step's code (inside the ±1 window) is fresh.
    code = totp_now(run.state["secret"], utcnow(), offset_steps=1)
    return {"json": {"password": PASSWORD, "code": code}}


async def check_mfa_disable(run: Run, response: httpx.Response) -> None:
    a_login = await password_login(run, run.a.email, PASSWORD)
    assert "access_token" in a_login.json(), a_login.text
    b_login = await password_login(run, run.b.email, PASSWORD)
    assert b_login.json().get("mfa_required") is True, b_login.text


async def check_mfa_setup(run: Run, response: httpx.Response) -> None:
    assert response.json()["secret"] != HOSTILE_TOTP_SECRET
    pending = await scalars(run, select(UserMfa.user_id))
    assert pending == [uuid.UUID(run.a.id)]


# API keys and the admin


async def keys_of(run: Run, person: Person) -> dict[str, Json]:
    listed = await run.client.get("/keys", headers=person.headers)
    assert listed.status_code == 200, listed.text
    return {item["id"]: item for item in listed.json()["items"]}


async def check_new_key(run: Run, response: httpx.Response) -> None:
    created = response.json()
    assert created["id"] != HOSTILE_ID
    assert created["scopes"] == ["files:read"]
    assert created["status"] == "active"
    assert created["id"] in await keys_of(run, run.a)
    assert created["id"] not in await keys_of(run, run.b)
    key = {"X-API-Key": created["key"]}
    assert (await run.client.get("/files", headers=key)).status_code == 200
    assert (await run.client.get("/documents", headers=key)).status_code == 403
    assert (await run.client.get("/examples/either", headers=key)).status_code == 403


async def arrange_key(run: Run) -> None:
    run.ids["key_id"], _ = await harness.create_key(run.client, run.a, ["files:read"])


async def check_rotated_key(run: Run, response: httpx.Response) -> None:
    await check_new_key(run, response)
    assert response.json()["name"] == "reliability"


async def arrange_role_grant(run: Run) -> None:
    run.ids.update(user_id=run.b.id, role=Role.vendor.value)


async def check_role_grant(run: Run, response: httpx.Response) -> None:
    assert response.json()["id"] == run.b.id
    assert sorted(response.json()["roles"]) == [Role.buyer.value, Role.vendor.value]
    b_profile = await me(run, run.b.headers)
    assert sorted(b_profile["roles"]) == [Role.buyer.value, Role.vendor.value]
    assert (await run.client.get("/users", headers=run.b.headers)).status_code == 403
    await assert_plain_user(run, run.a.headers, run.a.id)


# Files, documents, retrieval


async def check_upload(run: Run, response: httpx.Response) -> None:
    uploaded = response.json()
    assert uploaded["id"] != HOSTILE_ID
    assert uploaded["status"] == "uploaded"
    upload = run.state.get("upload_body") or b""
    assert uploaded["size"] == len(upload)
    assert uploaded["sha256"] == hashlib.sha256(upload).hexdigest()
    assert uploaded["content_type"] == "text/plain"
    assert (
        await run.client.get(f"/files/{uploaded['id']}", headers=run.a.headers)
    ).status_code == 200
    assert (
        await run.client.get(f"/files/{uploaded['id']}", headers=run.b.headers)
    ).status_code == 404
    (file,) = await scalars(run, select(File))
    assert file.owner_id == uuid.UUID(run.a.id)
    assert file.created_at.year > 2000


async def upload_request(run: Run) -> Json:
    built = await matrix_request("POST", "/upload")(run)
    run.state["upload_body"] = built["files"]["file"][1]
    return built


async def check_document_upload(run: Run, response: httpx.Response) -> None:
    uploaded = response.json()
    document_id = uploaded["document_id"]
    assert document_id != HOSTILE_ID
    assert uploaded["status"] == "UPLOADED"
    assert uploaded["created_at"][:4] != "2000"
    owner = await run.client.get(f"/documents/{document_id}", headers=run.a.headers)
    assert owner.status_code == 200, owner.text
    assert (
        await run.client.get(f"/documents/{document_id}", headers=run.b.headers)
    ).status_code == 404
    (document,) = await scalars(run, select(Document))
    assert document.owner_id == uuid.UUID(run.a.id)


async def arrange_query(run: Run) -> None:
    """B owns an indexed document that answers the matrix's question: B's own query finds it."""
    run.state["b_document"] = await harness.upload_document(run.client, run.b)
    await run.run_jobs()
    question = ROUTES[("POST", "/query")].request
    assert question is not None
    own = await run.client.post("/query", headers=run.b.headers, **await question(run.ctx(run.b)))
    assert own.status_code == 200, own.text
    assert {c["document_id"] for c in own.json()["chunks"]} == {run.state["b_document"]}


async def query_request(run: Run) -> Json:
    """The matrix's question, limited (a legitimate field) to B's document."""
    built = await matrix_request("POST", "/query")(run)
    built["json"] = {**built["json"], "document_ids": [run.state["b_document"]]}
    return built


async def check_query(run: Run, response: httpx.Response) -> None:
    assert response.json()["chunks"] == []
    assert response.json()["citations"] == []


# Billing


async def initiate_request(run: Run) -> Json:
    """The matrix's payment, with metadata (a legitimate field) that names B as the payer."""
    built = await matrix_request("POST", "/payments/paystack/initiate")(run)
    built["json"] = {**built["json"], "metadata": {"user_id": run.b.id}}
    return built


def initiate_extra(run: Run) -> Json:
    return {
        "reference": "oja_hostile_reference",
        "paid_at": LONG_AGO,
        "verified_at": LONG_AGO,
        "amount_refunded": 4999,
        "provider": "stripe",
        "authorization_url": EVIL_URL,
        "access_code": "hostile",
        "flag": "hostile",
    }


async def check_initiate(run: Run, response: httpx.Response) -> None:
    started = response.json()
    reference = started["reference"]
    assert started["status"] == "pending"
    assert started["amount"] == 5000
    assert reference != "oja_hostile_reference"
    assert started["authorization_url"] != EVIL_URL
    status = await run.client.get(f"/payments/{reference}/status", headers=run.a.headers)
    assert status.status_code == 200, status.text
    shown = status.json()
    assert (shown["status"], shown["amount_refunded"], shown["paid_at"], shown["flag"]) == (
        "pending",
        0,
        None,
        None,
    )
    foreign = await run.client.get(f"/payments/{reference}/status", headers=run.b.headers)
    assert foreign.status_code == 404
    (payment,) = await scalars(run, select(Payment))
    assert payment.user_id == uuid.UUID(run.a.id)
    assert (payment.provider, payment.status, payment.paid_at) == ("paystack", "pending", None)
    assert payment.verified_at is None
    assert payment.created_at.year > 2000
    assert await scalars(run, select(LedgerEntry)) == []
    # The user_id the provider is told (and that its webhooks carry back) is the caller's.
    sent = run.fakes.paystack.transactions[reference]
    assert sent.metadata["user_id"] == run.a.id
    assert sent.amount == 5000


async def arrange_refund(run: Run) -> None:
    run.ids["reference"] = await paid_payment(run, run.a)
    run.state["b_reference"] = await harness.initiate_payment(run.client, run.b)


async def refund_request(run: Run) -> Json:
    return {"json": {"amount": 1000}, "headers": {"Idempotency-Key": uuid.uuid4().hex}}


def refund_extra(run: Run) -> Json:
    return {
        "reference": run.state["b_reference"],
        "payment_id": HOSTILE_ID,
        "currency": "USD",
        "amount_refunded": 0,
    }


async def check_refund(run: Run, response: httpx.Response) -> None:
    refunded = response.json()
    assert refunded["reference"] == run.ids["reference"]
    assert (refunded["amount"], refunded["currency"], refunded["amount_refunded"]) == (
        1000,
        "NGN",
        1000,
    )
    assert refunded["status"] == "pending"
    (refund,) = await scalars(run, select(Refund))
    assert refund.user_id == uuid.UUID(run.a.id)
    assert (refund.status, refund.currency) == ("pending", "NGN")
    payments = {p.reference: p for p in await scalars(run, select(Payment))}
    assert payments[run.ids["reference"]].amount_refunded == 1000
    assert refund.payment_id == payments[run.ids["reference"]].id
    assert payments[run.state["b_reference"]].amount_refunded == 0
    # One credit for the payment; a processed refund would have added a debit.
    assert [e.kind for e in await scalars(run, select(LedgerEntry))] == ["payment"]


def checkout_extra(run: Run) -> Json:
    return {
        "price": "price_hostile",
        "price_id": "price_hostile",
        "line_items": [{"price": "price_hostile", "quantity": 100}],
        "quantity": 100,
        "customer": "cus_hostile",
        "client_reference_id": run.b.id,
        "success_url": EVIL_URL,
        "trial_period_days": 3650,
        "coupon": "FREE100",
    }


async def check_checkout(run: Run, response: httpx.Response) -> None:
    session = run.fakes.stripe.sessions[response.json()["session_id"]]
    assert session["_price"] == stripe_fake.DEFAULT_PRICE_ID
    assert session["client_reference_id"] == run.a.id
    assert session["metadata"] == {"user_id": run.a.id}
    assert session["_subscription_metadata"] == {"user_id": run.a.id}
    assert (
        session["success_url"]
        == run.app.state.runtime.settings.section(BillingSettings).stripe_success_url
    )
    assert run.fakes.stripe.customers[session["customer"]]["metadata"] == {"user_id": run.a.id}
    status = await run.client.get("/subscription/status", headers=run.a.headers)
    assert (status.json()["tier"], status.json()["status"]) == ("basic", "none")


# Chat


def room_extra(run: Run) -> Json:
    return {"updated_at": LONG_AGO, "deleted_at": LONG_AGO}


async def rooms_of(run: Run, person: Person) -> list[str]:
    listed = await run.client.get("/chatroom", headers=person.headers)
    assert listed.status_code == 200, listed.text
    return [room["id"] for room in listed.json()["items"]]


async def assert_room_of_a(run: Run, room_id: str) -> Json:
    owner = await run.client.get(f"/chatroom/{room_id}", headers=run.a.headers)
    assert owner.status_code == 200, owner.text
    assert (await run.client.get(f"/chatroom/{room_id}", headers=run.b.headers)).status_code == 404
    assert await rooms_of(run, run.a) == [room_id]
    assert await rooms_of(run, run.b) == []
    (room,) = await scalars(run, select(Chatroom).where(Chatroom.id == uuid.UUID(room_id)))
    assert room.owner_id == uuid.UUID(run.a.id)
    assert room.created_at.year > 2000
    assert room.updated_at.year > 2000
    return dict(owner.json())


async def check_room_created(run: Run, response: httpx.Response) -> None:
    created = response.json()
    assert created["id"] != HOSTILE_ID
    assert created["title"] == "matrix"
    await assert_room_of_a(run, created["id"])


async def arrange_room(run: Run) -> None:
    run.ids["chatroom_id"] = await harness.create_chatroom(run.client, run.a)


async def check_room_renamed(run: Run, response: httpx.Response) -> None:
    assert response.json()["id"] == run.ids["chatroom_id"]
    shown = await assert_room_of_a(run, run.ids["chatroom_id"])
    assert shown["title"] == "renamed"


async def arrange_rooms(run: Run) -> None:
    run.ids["chatroom_id"] = await harness.create_chatroom(run.client, run.a)
    run.state["b_room"] = await harness.create_chatroom(run.client, run.b)


def message_extra(run: Run) -> Json:
    return {
        "role": "assistant",
        "chatroom_id": run.state["b_room"],
        "reply_to_id": HOSTILE_ID,
        "provider": "gemini",
        "model": "hostile-model",
        "usage": {"total_tokens": 0},
        "completed_at": LONG_AGO,
        "error": None,
    }


async def check_message(run: Run, response: httpx.Response) -> None:
    sent = response.json()["user_message"]
    assert sent["id"] != HOSTILE_ID
    assert (sent["role"], sent["status"], sent["content"]) == ("user", "pending", "hello")
    assert sent["chatroom_id"] == run.ids["chatroom_id"]
    assert (sent["provider"], sent["model"], sent["usage"], sent["completed_at"]) == (None,) * 4
    assert sent["created_at"][:4] != "2000"
    b_room = await run.client.get(f"/chatroom/{run.state['b_room']}", headers=run.b.headers)
    assert b_room.json()["messages"]["total"] == 0
    stored = await scalars(run, select(ChatMessage))
    assert [(m.chatroom_id, m.role) for m in stored] == [
        (uuid.UUID(run.ids["chatroom_id"]), "user")
    ]
    # The prompt was counted against A's Basic allowance: no tier was bought by the body.
    status = await run.client.get("/subscription/status", headers=run.a.headers)
    assert status.json()["tier"] == "basic"
    assert status.json()["usage"]["prompts_today"] == 1


# The table


# Marketplace


def marketplace(need: str) -> Arrange:
    """A's store (approved by an admin made for it), its draft product, a category, or a store of
    a new user's — built by the authorization matrix's builders."""

    async def arrange(run: Run) -> None:
        if run.people.admin is run.b:  # a case without an admin seat: make one for approvals
            run.people.admin = await harness.make_admin(run.app, run.client)
        await MARKETPLACE_NEEDS[need](run.ctx(run.a), run.ids)

    return arrange


def marketplace_extra(run: Run) -> Json:
    return {"vendor_id": HOSTILE_ID, "product_id": HOSTILE_ID, "stock_before": 0}


async def check_paid_again(run: Run, response: httpx.Response) -> None:
    """A new attempt of A's group under a new reference, for the group's total, nothing else."""
    body = response.json()
    assert body["order_group_id"] == run.ids["group_id"]
    assert (body["status"], body["total"], body["payment"]["provider"]) == (
        "awaiting_payment",
        3000,
        "paystack",
    )
    async with unit_of_work(run.app.state.runtime.database) as db:
        payment = await billing_repository.payment_by_reference(db, body["payment"]["reference"])
    assert payment is not None
    assert (str(payment.user_id), payment.amount, payment.status) == (run.a.id, 3000, "pending")


async def arrange_open_dispute(run: Run) -> None:
    """A's group paid at the Paystack fake and disputed there, its dispute row open."""
    await marketplace("purchase_pending")(run)
    async with unit_of_work(run.app.state.runtime.database) as db:
        group = await db.get(OrderGroup, uuid.UUID(run.ids["group_id"]))
        assert group is not None
        assert group.payment_reference is not None
        tx = PaystackTransaction(
            id=next(run.fakes.paystack._ids),
            reference=group.payment_reference,
            access_code=group.payment_reference,
            amount=group.total,
            currency="NGN",
            email=run.a.email,
            metadata={},
            callback_url=None,
        )
        run.fakes.paystack.transactions[tx.reference] = tx
        run.fakes.paystack.settle(tx.reference, "success")
        record = DisputeRecord(next(run.fakes.paystack._ids), tx, tx.amount)
        run.fakes.paystack.disputes[record.id] = record
        dispute = Dispute(
            provider="paystack",
            provider_dispute_id=str(record.id),
            reference=tx.reference,
            group_id=group.id,
            status=DisputeStatus.open,
            provider_status=record.status,
            amount=tx.amount,
            currency="NGN",
        )
        db.add(dispute)
        await db.flush()
        run.ids["dispute_id"] = str(dispute.id)
        run.state["dispute"] = record


async def check_evidence(run: Run, response: httpx.Response) -> None:
    """Only the evidence reached Paystack; the dispute is still open, its figures unchanged."""
    record: DisputeRecord = run.state["dispute"]
    assert record.evidence is not None
    assert set(record.evidence) - {"id", "dispute"} == {
        "customer_email",
        "customer_name",
        "customer_phone",
        "service_details",
    }
    body = response.json()
    assert (body["status"], body["amount"], body["evidence_id"]) == (
        "open",
        3000,
        str(record.evidence["id"]),
    )


def dispute_extra(run: Run) -> Json:
    return {"status": "won", "resolution": "declined", "amount": 1, "evidence_id": "forged"}


async def _json(body: Json) -> Json:
    return body


async def check_nothing(run: Run, response: httpx.Response) -> None:
    """Only ``merits`` cases: the retry's refusal is their check."""


async def check_empty_category_map(run: Run, response: httpx.Response) -> None:
    assert response.json()["mappings"] == []


async def check_plan_checkout(run: Run, response: httpx.Response) -> None:
    """A checkout for the asked plan at its listed price; the store's plan is still the free
    tier (a plan applies once Paystack confirms the charge, never from the request)."""
    assert response.json()["plan"] == "vendor_basic_monthly"
    assert response.json()["authorization_url"].startswith("http")
    mine = await run.client.get("/vendors/me/subscription", headers=run.a.headers)
    assert (mine.json()["plan"], mine.json()["usage"]["limit"]) == ("free", 20), mine.text


async def no_body(run: Run) -> Json:
    return {}


async def check_pending_store(run: Run, response: httpx.Response) -> None:
    assert (response.json()["status"], response.json()["role"]) == ("pending", "owner")


def check_store_status(expected: str) -> Check:
    async def check(run: Run, response: httpx.Response) -> None:
        assert response.json()["status"] == expected

    return check


async def check_staff(run: Run, response: httpx.Response) -> None:
    assert (response.json()["user_id"], response.json()["role"]) == (run.b.id, "staff")


async def check_category(run: Run, response: httpx.Response) -> None:
    assert response.json()["id"] != HOSTILE_ID


async def check_product(run: Run, response: httpx.Response) -> None:
    mine = await run.client.get("/vendors/me", headers=run.a.headers)
    assert response.json()["vendor_id"] == mine.json()["id"]
    assert response.json()["status"] == "draft"


async def check_variant(run: Run, response: httpx.Response) -> None:
    assert response.json()["id"] != HOSTILE_ID


async def check_discount(run: Run, response: httpx.Response) -> None:
    assert (response.json()["used_count"], response.json()["value"]) == (0, 10)


async def check_stock(run: Run, response: httpx.Response) -> None:
    assert response.json()["movement"]["before"] == 5


async def check_payout_account(run: Run, response: httpx.Response) -> None:
    pending = response.json()["pending"]
    assert (pending["account_name"], pending["name_matched"]) == ("SANDBOX ACCOUNT 6789", False)
    assert (pending["status"], response.json()["active"]) == ("pending_approval", None)


async def check_approved_account(run: Run, response: httpx.Response) -> None:
    active = response.json()["active"]
    assert active["account_name"].startswith("SANDBOX ACCOUNT ")
    assert (active["status"], active["name_matched"]) == ("active", False)


def check_hold(held: bool) -> Check:
    async def check(run: Run, response: httpx.Response) -> None:
        assert (response.json()["held"], response.json()["reason"]) == (held, "matrix")
        assert response.json()["vendor_id"] == run.ids["vendor_id"]

    return check


async def check_retry(run: Run, response: httpx.Response) -> None:
    body = response.json()
    assert (body["amount"], body["status"], body["vendor_id"]) == (
        150_000,
        "pending",
        run.ids["vendor_id"],
    )
    assert body["reference"].endswith("-r1")
    assert body["retry_of"] == run.ids["payout_id"]


async def check_operator_plan(run: Run, response: httpx.Response) -> None:
    body = response.json()
    assert (body["plan"], body["status"], body["usage"]["limit"]) == (
        "vendor_basic_monthly",
        "active",
        100,
    )


async def check_rejected_account(run: Run, response: httpx.Response) -> None:
    assert (response.json()["active"], response.json()["pending"]) == (None, None)
    assert response.json()["held"] is False


async def check_finalized(run: Run, response: httpx.Response) -> None:
    body = response.json()
    assert (body["id"], body["vendor_id"]) == (run.ids["payout_id"], run.ids["vendor_id"])
    assert (body["amount"], body["status"]) == (150_000, "processing")
    assert body["reference"].startswith("payout_")


async def check_otp_resent(run: Run, response: httpx.Response) -> None:
    assert response.json() == {"payout_id": run.ids["payout_id"], "status": "otp_required"}


def payout_extra(run: Run) -> Json:
    return {
        "vendor_id": HOSTILE_ID,
        "account_name": "HOSTILE HOLDER",
        "recipient_code": "RCP_hostile",
        "name_matched": True,
        "held_until": LONG_AGO,
        "reference": "payout_hostile",
    }


# Marketplace: carts, checkout, orders, returns, images, imports, reviews


def order_extra(run: Run) -> Json:
    """What an order's caller never sets: its owners, its money, its payment."""
    return {
        "vendor_id": HOSTILE_ID,
        "buyer_id": run.b.id,
        "order_id": HOSTILE_ID,
        "total": 1,
        "subtotal": 1,
        "refunded_amount": 0,
        "paid_at": LONG_AGO,
        "payment_reference": "oja_hostile_reference",
    }


def priced_extra(run: Run) -> Json:
    return {**order_extra(run), "unit_price": 1, "price": 1, "product_id": HOSTILE_ID}


async def order_as(run: Run, person: Person, vendor: bool = False) -> httpx.Response:
    path = (
        f"/vendors/me/orders/{run.ids['order_id']}" if vendor else f"/orders/{run.ids['order_id']}"
    )
    return await run.client.get(path, headers=person.headers)


def check_cart(quantity: int) -> Check:
    async def check(run: Run, response: httpx.Response) -> None:
        (store,) = response.json()["stores"]
        (line,) = store["lines"]
        assert store["vendor"]["id"] == run.ids["rival_vendor_id"]
        assert (line["variant_id"], line["quantity"]) == (run.ids["rival_variant_id"], quantity)
        assert (line["unit_price"], line["line_total"]) == (1000, 1000 * quantity)
        theirs = await run.client.get("/cart", headers=run.b.headers)
        assert theirs.json()["stores"] == [], theirs.text

    return check


async def check_cart_checkout(run: Run, response: httpx.Response) -> None:
    placed = response.json()
    assert (placed["status"], placed["total"], placed["subtotal"]) == (
        "awaiting_payment",
        1000,
        1000,
    )
    (order,) = placed["orders"]
    assert (order["vendor_id"], order["status"], order["total"]) == (
        run.ids["rival_vendor_id"],
        "pending",
        1000,
    )
    assert placed["payment"]["reference"] != "oja_hostile_reference"
    group = f"/order-groups/{placed['order_group_id']}"
    assert (await run.client.get(group, headers=run.a.headers)).status_code == 200
    assert (await run.client.get(group, headers=run.b.headers)).status_code == 404
    (payment,) = await scalars(run, select(Payment))
    assert (payment.user_id, payment.amount, payment.status) == (
        uuid.UUID(run.a.id),
        1000,
        "pending",
    )


def check_order(status: str, *, vendor: bool) -> Check:
    """The order moved to ``status`` and nothing else: its buyer, store and money unchanged."""

    async def check(run: Run, response: httpx.Response) -> None:
        shown = (await order_as(run, run.a, vendor=vendor)).json()
        assert shown["id"] == run.ids["order_id"]
        assert (shown["status"], shown["total"], shown["refunded_amount"]) == (status, 3000, 0)
        seller = run.ids["vendor_id"] if vendor else run.ids["rival_vendor_id"]
        assert shown["vendor_id"] == seller
        # B (the buyer when A sells, the seller when A buys) sees it unchanged or not at all.
        other = await order_as(run, run.b, vendor=not vendor)
        assert other.status_code == 200, other.text
        assert other.json()["status"] == status

    return check


async def check_return_requested(run: Run, response: httpx.Response) -> None:
    made = response.json()
    assert made["id"] != HOSTILE_ID
    assert (made["order_id"], made["status"], made["amount"]) == (
        run.ids["order_id"],
        "requested",
        1000,
    )
    shop = await run.client.get("/vendors/me/returns", headers=run.b.headers)
    assert [r["id"] for r in shop.json()["items"]] == [made["id"]], shop.text


def check_return(status: str) -> Check:
    async def check(run: Run, response: httpx.Response) -> None:
        decided = response.json()
        assert (decided["id"], decided["status"]) == (run.ids["return_id"], status)
        assert decided["amount"] == 1000

    return check


async def flutterwave_request(run: Run) -> Json:
    built = await matrix_request("POST", "/payments/flutterwave/initiate")(run)
    built["json"] = {**built["json"], "metadata": {"user_id": run.b.id}}
    return built


def flutterwave_extra(run: Run) -> Json:
    return {**initiate_extra(run), "provider": "paystack", "tx_ref": "oja_hostile_reference"}


async def check_flutterwave_initiate(run: Run, response: httpx.Response) -> None:
    started = response.json()
    reference = started["reference"]
    assert (started["status"], started["amount"]) == ("pending", 5000)
    assert reference != "oja_hostile_reference"
    assert started["authorization_url"] != EVIL_URL
    foreign = await run.client.get(f"/payments/{reference}/status", headers=run.b.headers)
    assert foreign.status_code == 404
    (payment,) = await scalars(run, select(Payment))
    assert payment.user_id == uuid.UUID(run.a.id)
    assert (payment.provider, payment.status, payment.paid_at) == ("flutterwave", "pending", None)
    assert payment.created_at.year > 2000
    assert await scalars(run, select(LedgerEntry)) == []
    sent = run.fakes.flutterwave.by_reference(reference)
    assert sent.meta["user_id"] == run.a.id
    assert sent.amount * 100 == 5000


def image_extra(run: Run) -> Json:
    return {
        "product_id": HOSTILE_ID,
        "vendor_id": HOSTILE_ID,
        "storage_key": "files/hostile.png",
        "urls": {"original": EVIL_URL},
    }


async def check_image(run: Run, response: httpx.Response) -> None:
    image = response.json()
    assert image["id"] != HOSTILE_ID
    assert image["status"] != "ready" or image["urls"]["original"] != EVIL_URL
    product = await run.client.get(f"/products/{run.ids['product_id']}", headers=run.a.headers)
    assert [i["id"] for i in product.json()["images"]] == [image["id"]], product.text


async def check_image_edit(run: Run, response: httpx.Response) -> None:
    assert (response.json()["id"], response.json()["alt_text"]) == (run.ids["image_id"], "Front")


def import_extra(run: Run) -> Json:
    return {"vendor_id": HOSTILE_ID, "dry_run": True, "counts": {"created": 99}, "error": "x"}


async def check_import(run: Run, response: httpx.Response) -> None:
    started = response.json()
    assert started["id"] != HOSTILE_ID
    assert (started["status"], started["dry_run"], started["error"]) == ("queued", False, None)
    mine = await run.client.get(f"/vendors/me/imports/{started['id']}", headers=run.a.headers)
    assert mine.status_code == 200, mine.text
    await run.run_jobs()  # not a dry run: the row is applied to A's store
    done = await run.client.get(f"/vendors/me/imports/{started['id']}", headers=run.a.headers)
    assert (done.json()["status"], done.json()["counts"]["created"]) == ("succeeded", 1), done.text
    inventory = await run.client.get("/vendors/me/inventory", headers=run.a.headers)
    assert "TEA-1" in inventory.text, inventory.text


def review_extra(run: Run) -> Json:
    return {
        "author_id": run.b.id,
        "vendor_id": HOSTILE_ID,
        "subject_id": HOSTILE_ID,
        "verified": False,
        "helpful_count": 99,
        "reply": "hostile reply",
        "screening": None,
    }


def check_review(author: str, **expected: Any) -> Check:
    """The review is ``author``'s ("a" or "b"), on the subject the path named, with ``expected``."""

    async def check(run: Run, response: httpx.Response) -> None:
        review = response.json()
        assert review["id"] != HOSTILE_ID
        assert review["author_id"] == getattr(run, author).id
        assert review["vendor_id"] != HOSTILE_ID
        wanted = dict(expected)  # the check runs once per backend: never consume the closure's
        assert review["helpful_count"] == wanted.pop("helpful_count", 0)
        for name, value in wanted.items():
            assert review[name] == value, (name, review[name])

    return check


async def check_flag(run: Run, response: httpx.Response) -> None:
    (flag,) = await scalars(run, select(ReviewFlag))
    assert (flag.user_id, flag.review_id) == (uuid.UUID(run.a.id), uuid.UUID(run.ids["review_id"]))
    assert flag.created_at.year > 2000


def check_decision(status: str) -> Check:
    async def check(run: Run, response: httpx.Response) -> None:
        decided = response.json()
        assert (decided["id"], decided["status"]) == (run.ids["review_id"], status)
        assert decided["author_id"] == run.a.id

    return check


async def check_preferences(run: Run, response: httpx.Response) -> None:
    mine = {(p["category"], p["channel"]): p["enabled"] for p in response.json()["preferences"]}
    assert mine[("orders", "email")] is False
    theirs = await run.client.get("/notifications/preferences", headers=run.b.headers)
    assert all(p["enabled"] for p in theirs.json()["preferences"] if p["channel"] == "email")


async def check_notification_template(run: Run, response: httpx.Response) -> None:
    assert (response.json()["event"], response.json()["customised"]) == ("order.shipped", True)


CASES: dict[tuple[str, str], Case] = {
    # Identity: public flows.
    ("POST", "/auth/signup"): Case("rejected", check_signup, caller="anon"),
    ("POST", "/auth/login"): Case("ignored", check_tokens_of_a, caller="anon"),
    ("POST", "/auth/refresh"): Case("ignored", check_tokens_of_a, caller="anon"),
    ("POST", "/auth/send-otp"): Case(
        "ignored",
        check_send_otp,
        caller="anon",
        request=send_otp_request,
        extra=lambda run: {"otp": HOSTILE_OTP, "purpose": "password_reset", "expires_in": 10**6},
    ),
    ("POST", "/auth/verify-otp"): Case(
        "ignored",
        check_verify_otp,
        caller="anon",
        request=verify_otp_request,
        extra=lambda run: {"email": run.b.email, "purpose": "verify_phone"},
    ),
    ("POST", "/auth/forgot-password"): Case(
        "rejected", check_forgot, caller="anon", request=forgot_request
    ),
    ("POST", "/auth/reset-password"): Case(
        "rejected",
        check_reset,
        caller="anon",
        arrange=arrange_reset,
        request=reset_request,
        extra=lambda run: {"email": run.b.email},
    ),
    ("POST", "/auth/verify/email/confirm"): Case(
        "ignored",
        check_email_confirm,
        caller="anon",
        arrange=arrange_email_link,
        request=email_confirm_request,
        extra=lambda run: {"email": run.b.email},
    ),
    ("POST", "/auth/mfa/verify"): Case(
        "ignored",
        check_tokens_of_a,
        caller="anon",
        arrange=arrange_mfa_login,
        request=mfa_verify_request,
    ),
    # Identity: the signed-in user's own account.
    ("POST", "/auth/change-password"): Case(
        "ignored",
        check_change_password,
        extra=lambda run: {
            "password": "hostile horse battery",
            "email": harness.unique_email("hijack"),
            "mobile": mobile(),
        },
    ),
    ("POST", "/auth/verify/phone/request"): Case(
        "ignored",
        check_phone_request,
        request=phone_request_request,
        extra=lambda run: {"otp": HOSTILE_OTP},
    ),
    ("POST", "/auth/verify/phone/confirm"): Case(
        "ignored",
        check_phone_confirm,
        arrange=arrange_phone_confirm,
        request=phone_confirm_request,
        extra=lambda run: {"mobile": mobile()},
    ),
    ("POST", "/auth/mfa/setup"): Case(
        "ignored",
        check_mfa_setup,
        extra=lambda run: {"secret": HOSTILE_TOTP_SECRET},
    ),
    ("POST", "/auth/mfa/enable"): Case(
        "ignored",
        check_mfa_enable,
        arrange=arrange_mfa_setup,
        request=mfa_enable_request,
        extra=lambda run: {
            "secret": HOSTILE_TOTP_SECRET,
            "recovery_codes": HOSTILE_RECOVERY_CODES,
            "mfa_enabled": True,
        },
    ),
    ("POST", "/auth/mfa/disable"): Case(
        "ignored", check_mfa_disable, arrange=arrange_mfa_both, request=mfa_disable_request
    ),
    # API keys and the admin.
    ("POST", "/keys/create"): Case(
        "rejected",
        check_new_key,
        extra=lambda run: {
            "key": "oja_sk_hostile0000000000000000000000",
            "prefix": "oja_sk_hostil",
            "revoked_at": LONG_AGO,
            "last_used_at": LONG_AGO,
            "replaced_by_id": HOSTILE_ID,
        },
    ),
    ("POST", "/keys/{key_id}/rotate"): Case(
        "ignored",
        check_rotated_key,
        arrange=arrange_key,
        extra=lambda run: {"name": "hostile", "expires_at": "2999-01-01T00:00:00Z"},
    ),
    ("POST", "/users/{user_id}/roles/{role}"): Case(
        "ignored",
        check_role_grant,
        caller="admin",
        arrange=arrange_role_grant,
        # The path names B; the body names A, as the target and as the role's holder.
        extra=lambda run: {"user_id": run.a.id, "owner_id": run.a.id},
    ),
    # Files, documents, retrieval.
    ("POST", "/upload"): Case(
        "ignored",
        check_upload,
        request=upload_request,
        status="processed",
        extra=lambda run: {"sha256": "0" * 64, "size": 1, "content_type": "image/png"},
    ),
    ("POST", "/documents/upload"): Case(
        "ignored",
        check_document_upload,
        status="COMPLETED",
        extra=lambda run: {"document_id": HOSTILE_ID, "text": "hostile text", "kind": "pdf"},
    ),
    ("POST", "/query"): Case("ignored", check_query, arrange=arrange_query, request=query_request),
    # Billing.
    ("POST", "/payments/paystack/initiate"): Case(
        "ignored",
        check_initiate,
        request=initiate_request,
        status="success",
        extra=initiate_extra,
    ),
    ("POST", "/payments/{reference}/refund"): Case(
        "ignored",
        check_refund,
        arrange=arrange_refund,
        request=refund_request,
        status="processed",
        extra=refund_extra,
    ),
    ("POST", "/subscribe/pro"): Case(
        "ignored", check_checkout, status="active", extra=checkout_extra
    ),
    # Chat.
    ("POST", "/chatroom"): Case("ignored", check_room_created, extra=room_extra),
    ("PATCH", "/chatroom/{chatroom_id}"): Case(
        "ignored", check_room_renamed, arrange=arrange_room, extra=room_extra
    ),
    ("POST", "/chatroom/{chatroom_id}/message"): Case(
        "ignored",
        check_message,
        arrange=arrange_rooms,
        status="completed",
        extra=message_extra,
    ),
    # Marketplace: every body forbids unknown fields, so hostile extras are a 422 that writes nothing.
    ("POST", "/vendors"): Case("rejected", check_pending_store, status="approved"),
    ("PATCH", "/vendors/me"): Case(
        "rejected", check_store_status("approved"), arrange=marketplace("store"), status="suspended"
    ),
    ("POST", "/vendors/me/staff"): Case(
        "rejected",
        check_staff,
        arrange=marketplace("store"),
        extra=lambda run: {"vendor_id": HOSTILE_ID},
    ),
    ("POST", "/admin/vendors/{vendor_id}/approve"): Case(
        "rejected",
        check_store_status("approved"),
        caller="admin",
        arrange=marketplace("pending_store"),
        request=no_body,
    ),
    ("POST", "/admin/vendors/{vendor_id}/reject"): Case(
        "rejected",
        check_store_status("rejected"),
        caller="admin",
        arrange=marketplace("pending_store"),
        status="approved",
    ),
    ("POST", "/admin/vendors/{vendor_id}/suspend"): Case(
        "rejected",
        check_store_status("suspended"),
        caller="admin",
        arrange=marketplace("approved_store"),
        status="approved",
    ),
    ("PUT", "/vendors/me/payout-account"): Case(
        "rejected",
        check_payout_account,
        arrange=marketplace("store"),
        status="active",
        extra=payout_extra,
    ),
    ("POST", "/admin/vendors/{vendor_id}/payout-account/approve"): Case(
        "ignored",
        check_approved_account,
        caller="admin",
        arrange=marketplace("payout_account_pending"),
        request=no_body,
        status="active",
        extra=payout_extra,
    ),
    ("POST", "/admin/vendors/{vendor_id}/payout-hold"): Case(
        "rejected",
        check_hold(True),
        caller="admin",
        arrange=marketplace("approved_store"),
        extra=payout_extra,
    ),
    ("POST", "/admin/vendors/{vendor_id}/plan"): Case(
        "rejected",
        check_operator_plan,
        caller="admin",
        arrange=marketplace("approved_store"),
        status="active",
        extra=lambda run: {"vendor_id": HOSTILE_ID, "user_limit": None, "limit": 0},
    ),
    ("POST", "/admin/vendors/{vendor_id}/payout-release"): Case(
        "rejected",
        check_hold(False),
        caller="admin",
        arrange=marketplace("approved_store"),
        extra=payout_extra,
    ),
    ("POST", "/admin/vendors/{vendor_id}/payout-account/reject"): Case(
        "rejected",
        check_rejected_account,
        caller="admin",
        arrange=marketplace("payout_account_pending"),
        status="active",
        extra=payout_extra,
    ),
    ("POST", "/admin/payouts/{payout_id}/finalize"): Case(
        "rejected",
        check_finalized,
        caller="admin",
        arrange=marketplace("otp_payout"),
        status="paid",
        extra=payout_extra,
    ),
    ("POST", "/admin/payouts/{payout_id}/resend-otp"): Case(
        "ignored",
        check_otp_resent,
        caller="admin",
        arrange=marketplace("otp_payout"),
        request=no_body,
        status="paid",
        extra=payout_extra,
    ),
    ("POST", "/admin/payouts/{payout_id}/retry"): Case(
        "ignored",
        check_retry,
        caller="admin",
        arrange=marketplace("failed_payout"),
        request=no_body,
        status="paid",
        extra=payout_extra,
    ),
    ("PUT", "/vendors/me/aliexpress/category-map"): Case(
        "rejected",
        check_empty_category_map,
        arrange=marketplace("store"),
        extra=lambda run: {"vendor_id": HOSTILE_ID},
    ),
    ("PUT", "/admin/aliexpress/category-map"): Case(
        "rejected",
        check_empty_category_map,
        caller="admin",
        extra=lambda run: {"vendor_id": HOSTILE_ID},
    ),
    ("POST", "/vendors/me/aliexpress/imports"): Case(
        "rejected",
        check_nothing,
        arrange=marketplace("store"),
        extra=lambda run: {"vendor_id": HOSTILE_ID, "source": "manual"},
        merits=(409, "aliexpress_not_connected"),
    ),
    ("POST", "/vendors/me/subscription"): Case(
        "rejected",
        check_plan_checkout,
        arrange=marketplace("store"),
        request=lambda run: _json({"json": {"plan": "vendor_basic_monthly"}}),
        status="active",
        extra=lambda run: {"vendor_id": HOSTILE_ID, "user_limit": None, "price": 0},
    ),
    ("POST", "/vendors/me/subscription/change"): Case(
        "rejected",
        check_nothing,
        arrange=marketplace("store"),
        request=lambda run: _json({"json": {"plan": "vendor_diamond_monthly"}}),
        status="active",
        extra=lambda run: {"vendor_id": HOSTILE_ID, "user_limit": None, "price": 0},
        merits=(409, "no_paid_plan"),
    ),
    ("POST", "/categories"): Case("rejected", check_category, caller="admin"),
    ("PATCH", "/categories/{category_id}"): Case(
        "rejected", check_category, caller="admin", arrange=marketplace("category")
    ),
    ("POST", "/products"): Case(
        "rejected",
        check_product,
        arrange=marketplace("store"),
        status="active",
        extra=lambda run: {"vendor_id": HOSTILE_ID},
    ),
    ("PATCH", "/products/{product_id}"): Case(
        "rejected",
        check_product,
        arrange=marketplace("product"),
        status="archived",
        extra=lambda run: {"vendor_id": HOSTILE_ID},
    ),
    ("POST", "/products/{product_id}/variants"): Case(
        "rejected", check_variant, arrange=marketplace("product"), extra=marketplace_extra
    ),
    ("PATCH", "/products/{product_id}/variants/{variant_id}"): Case(
        "rejected", check_variant, arrange=marketplace("product"), extra=marketplace_extra
    ),
    ("POST", "/vendors/me/discounts"): Case(
        "rejected",
        check_discount,
        arrange=marketplace("store"),
        extra=lambda run: {"vendor_id": HOSTILE_ID, "used_count": 0},
    ),
    ("POST", "/products/{product_id}/variants/{variant_id}/stock"): Case(
        "rejected", check_stock, arrange=marketplace("product"), extra=marketplace_extra
    ),
    ("POST", "/cart/items"): Case(
        "rejected", check_cart(1), arrange=marketplace("rival"), extra=priced_extra
    ),
    ("PATCH", "/cart/items/{item_id}"): Case(
        "rejected", check_cart(2), arrange=marketplace("cart_line"), extra=priced_extra
    ),
    ("POST", "/checkout"): Case(
        "rejected",
        check_cart_checkout,
        arrange=marketplace("cart_line"),
        status="paid",
        extra=priced_extra,
    ),
    ("POST", "/order-groups/{group_id}/pay"): Case(
        "rejected",
        check_paid_again,
        arrange=marketplace("purchase_pending"),
        status="paid",
        extra=lambda run: {"provider": "flutterwave", "amount": 1, "reference": "oja_forged"},
    ),
    ("POST", "/admin/disputes/{dispute_id}/evidence"): Case(
        "rejected",
        check_evidence,
        caller="admin",
        arrange=arrange_open_dispute,
        extra=dispute_extra,
    ),
    ("POST", "/orders/{order_id}/cancel"): Case(
        "rejected",
        check_order("canceled", vendor=False),
        arrange=marketplace("purchase_pending"),
        request=no_body,
        status="delivered",
        extra=order_extra,
    ),
    ("POST", "/orders/{order_id}/returns"): Case(
        "rejected",
        check_return_requested,
        arrange=marketplace("purchase_delivered"),
        status="received",
        extra=lambda run: {**order_extra(run), "amount_refunded": 1, "decision_note": "ok"},
    ),
    ("POST", "/vendors/me/orders/{order_id}/confirm"): Case(
        "ignored",
        check_order("confirmed", vendor=True),
        arrange=marketplace("sale_pending"),
        status="delivered",
        extra=order_extra,
    ),
    ("POST", "/vendors/me/orders/{order_id}/ship"): Case(
        "rejected",
        check_order("shipped", vendor=True),
        arrange=marketplace("sale_confirmed"),
        status="delivered",
        extra=order_extra,
    ),
    ("POST", "/vendors/me/orders/{order_id}/deliver"): Case(
        "ignored",
        check_order("delivered", vendor=True),
        arrange=marketplace("sale_shipped"),
        status="returned",
        extra=order_extra,
    ),
    ("POST", "/vendors/me/orders/{order_id}/cancel"): Case(
        "rejected",
        check_order("canceled", vendor=True),
        arrange=marketplace("sale_confirmed"),
        status="delivered",
        extra=order_extra,
    ),
    ("POST", "/vendors/me/returns/{return_id}/approve"): Case(
        "rejected",
        check_return("approved"),
        arrange=marketplace("return_requested"),
        request=no_body,
        status="received",
        extra=order_extra,
    ),
    ("POST", "/vendors/me/returns/{return_id}/reject"): Case(
        "rejected",
        check_return("rejected"),
        arrange=marketplace("return_requested"),
        request=no_body,
        status="received",
        extra=order_extra,
    ),
    ("POST", "/vendors/me/returns/{return_id}/receive"): Case(
        "rejected",
        check_return("received"),
        arrange=marketplace("return_approved"),
        request=no_body,
        status="approved",
        extra=order_extra,
    ),
    ("POST", "/payments/flutterwave/initiate"): Case(
        "ignored",
        check_flutterwave_initiate,
        request=flutterwave_request,
        status="successful",
        extra=flutterwave_extra,
    ),
    ("POST", "/products/{product_id}/images"): Case(
        "ignored", check_image, arrange=marketplace("product"), status="ready", extra=image_extra
    ),
    ("PATCH", "/products/{product_id}/images/{image_id}"): Case(
        "rejected",
        check_image_edit,
        arrange=marketplace("image"),
        status="ready",
        extra=image_extra,
    ),
    ("POST", "/vendors/me/imports"): Case(
        "ignored", check_import, arrange=marketplace("store"), extra=import_extra
    ),
    ("POST", "/products/{product_id}/reviews"): Case(
        "rejected",
        check_review("a", subject="product", reply=None, verified=True),
        arrange=marketplace("purchase_delivered"),
        status="published",
        extra=review_extra,
    ),
    ("POST", "/vendors/{vendor_id}/reviews"): Case(
        "rejected",
        check_review("a", subject="store", reply=None, verified=True),
        arrange=marketplace("purchase_delivered"),
        status="published",
        extra=review_extra,
    ),
    ("PATCH", "/reviews/{review_id}"): Case(
        "rejected",
        check_review("a", title="Edited", reply=None),
        arrange=marketplace("my_review"),
        status="published",
        extra=review_extra,
    ),
    ("POST", "/reviews/{review_id}/helpful"): Case(
        "ignored",
        check_review("a", helpful_count=1, reply=None),
        arrange=marketplace("my_review"),
        status="hidden",
        extra=review_extra,
    ),
    ("POST", "/reviews/{review_id}/flag"): Case(
        "rejected",
        check_flag,
        arrange=marketplace("my_review"),
        status="hidden",
        extra=review_extra,
    ),
    ("POST", "/reviews/{review_id}/reply"): Case(
        "rejected",
        check_review("b", reply="Thank you!"),
        arrange=marketplace("store_review"),
        status="hidden",
        extra=review_extra,
    ),
    ("POST", "/admin/reviews/{review_id}/publish"): Case(
        "rejected",
        check_decision("published"),
        caller="admin",
        arrange=marketplace("my_review"),
        status="hidden",
        extra=review_extra,
    ),
    ("POST", "/admin/reviews/{review_id}/hide"): Case(
        "rejected",
        check_decision("hidden"),
        caller="admin",
        arrange=marketplace("my_review"),
        status="published",
        extra=review_extra,
    ),
    ("PUT", "/notifications/preferences"): Case("rejected", check_preferences),
    ("PUT", "/admin/notification-templates/{event}/{channel}"): Case(
        "rejected",
        check_notification_template,
        caller="admin",
        arrange=marketplace("notification_template"),
    ),
}


NO_BODY = "takes no request body (OpenAPI declares none): nothing to mass-assign"
EXEMPT: dict[tuple[str, str], str] = {
    ("POST", "/auth/logout"): f"{NO_BODY}; it ends the caller's own session",
    ("POST", "/auth/verify/email/request"): f"{NO_BODY}; the link goes to the account's address",
    ("POST", "/keys/{key_id}/revoke"): f"{NO_BODY}; the key is named by the path",
    ("POST", "/files/{file_id}/retry"): f"{NO_BODY}; the file is named by the path",
    ("POST", "/documents/{document_id}/analyze"): NO_BODY,
    ("POST", "/documents/{document_id}/process"): NO_BODY,
    ("POST", "/subscription/cancel"): f"{NO_BODY}; it acts on the caller's own subscription",
    ("POST", "/subscription/portal"): f"{NO_BODY}; it opens the caller's own portal",
    ("POST", "/vendors/me/subscription/cancel"): (
        f"{NO_BODY}; it acts on the caller's own store's plan"
    ),
    ("POST", "/payments/paystack/webhook"): (
        "the body is Paystack's HMAC-signed event, not a client's input (unsigned: 400, proven by "
        "the matrix); a payment moves only on Paystack's own verify answer, never on the body"
    ),
    ("POST", "/notifications/read-all"): f"{NO_BODY}; it acts on the caller's own notifications",
    (
        "POST",
        "/notifications/{notification_id}/read",
    ): f"{NO_BODY}; the notification is named by the path",
    ("POST", "/vendors/{vendor_id}/follow"): (
        f"{NO_BODY}; the store is named by the path and the follower is the caller"
    ),
    ("POST", "/notifications/unsubscribe"): (
        f"{NO_BODY}; the signed token in the query names the user and category, and it can only "
        "turn that category's email off (forgeries refused: tests/notifications/test_unsubscribe)"
    ),
    ("POST", "/notifications/callbacks/twilio"): (
        "the body is Twilio's signed status callback, not a client's input (unsigned: 403, proven "
        "by the matrix); it can only move a delivery's status forward"
    ),
    ("POST", "/notifications/callbacks/sendgrid"): (
        "the body is SendGrid's ECDSA-signed event batch, not a client's input (unsigned: 403, "
        "proven by the matrix); it can only move a delivery's status forward"
    ),
    ("POST", "/webhook/stripe"): (
        "the body is Stripe's signed event, not a client's input (unsigned: 400, proven by the "
        "matrix); a subscription is re-read from Stripe, never taken from the body"
    ),
    ("POST", "/ws/ticket"): f"{NO_BODY}; the ticket is for the caller's own socket",
    ("POST", "/payments/flutterwave/webhook"): (
        "the body is Flutterwave's signed event (verif-hash or flutterwave-signature), not a "
        "client's input (unsigned: 400, proven by the matrix); a payment moves only on "
        "Flutterwave's own verify answer, never on the body"
    ),
}


def standard_hostile(run: Run, status: str) -> Json:
    return {
        "role": Role.admin.value,
        "roles": [Role.admin.value],
        "is_admin": True,
        "is_superuser": True,
        "owner_id": run.b.id,
        "user_id": run.b.id,
        "status": status,
        "amount": 1,
        "id": HOSTILE_ID,
        "created_at": LONG_AGO,
        "email_verified": True,
        "mobile_verified": True,
        "plan": "pro",
        "tier": "pro",
        "scopes": sorted(SCOPES),
    }


# OpenAPI: which fields a route legitimately takes


def _resolve(document: Json, schema: Json) -> Json:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _resolve(document, document["components"]["schemas"][name])
    return schema


def _properties(document: Json, schema: Json) -> set[str]:
    schema = _resolve(document, schema)
    names = set(schema.get("properties", {}))
    for option in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
        names |= _properties(document, option)
    return names


_bodies: dict[tuple[str, str], dict[str, set[str]]] = {}


def request_bodies(app: Any) -> dict[tuple[str, str], dict[str, set[str]]]:
    """(METHOD, path) → {media type: the properties its schema declares}, for every operation.

    Read once per session: the document depends on the code, not on the app instance, and
    building it costs seconds."""
    if not _bodies:
        document = app.openapi()
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                content = (operation.get("requestBody") or {}).get("content", {})
                _bodies[(method.upper(), path)] = {
                    media: _properties(document, spec.get("schema", {}))
                    for media, spec in content.items()
                }
    return _bodies


def legitimate_fields(app: Any, key: tuple[str, str]) -> set[str]:
    return set().union(*request_bodies(app).get(key, {}).values())


# The tests


def test_every_write_route_is_covered(harness_app: Any) -> None:
    writes = {op for op in harness.app_operations(harness_app) if op[0] in WRITE_METHODS}
    uncovered = sorted(writes - CASES.keys() - EXEMPT.keys())
    stale = sorted((CASES.keys() | EXEMPT.keys()) - writes)
    both = sorted(CASES.keys() & EXEMPT.keys())
    assert not uncovered, f"write routes with no mass-assignment case and no exemption: {uncovered}"
    assert not stale, f"cases or exemptions for routes the app does not serve: {stale}"
    assert not both, f"routes both tested and exempt: {both}"
    bodies = request_bodies(harness_app)
    json_routes = {op for op in writes if "application/json" in bodies.get(op, {})}
    assert json_routes <= CASES.keys(), "every JSON-body write route needs a case"
    with_body = sorted(op for op in EXEMPT if bodies.get(op))
    assert not with_body, f"exempt routes that now declare a request body: {with_body}"
    assert all(reason.strip() for reason in EXEMPT.values())


def _form_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


async def _send(
    run: Run, method: str, path: str, headers: dict[str, str], built: Json, extras: Json
) -> httpx.Response:
    built = dict(built)
    request_headers = {**headers, **built.pop("headers", {})}
    if "files" in built:
        data = {name: _form_value(value) for name, value in extras.items()}
        return await run.client.request(
            method, path, headers=request_headers, files=built["files"], data=data
        )
    body = {**built.get("json", {}), **extras}
    if not body:
        return await run.client.request(method, path, headers=request_headers)
    return await run.client.request(method, path, headers=request_headers, json=body)


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


@pytest.mark.usefixtures("cheap_hashing")  # passwords hashed at a test's cost (conftest.py)
@pytest.mark.parametrize("key", list(CASES), ids=[f"{m} {p}" for m, p in CASES])
async def test_hostile_fields_have_no_effect(
    key: tuple[str, str],
    harness_app: Any,
    client: httpx.AsyncClient,
    fakes: Fakes,
    dropped_jobs: DroppedJobs,
    stack: ExitStack,
) -> None:
    method, path = key
    case = CASES[key]
    people = await principals(harness_app, client, admin=case.caller == "admin")
    run = Run(harness_app, client, people, fakes, dropped_jobs, stack)
    if case.arrange is not None:
        await case.arrange(run)
    build = case.request or matrix_request(method, path)
    built = await build(run)
    legitimate = legitimate_fields(harness_app, key)
    own = case.extra(run) if case.extra else {}
    assert not own.keys() & legitimate, (
        f"hostile fields that are legitimate inputs: {own.keys() & legitimate}"
    )
    extras = {
        name: value
        for name, value in {**standard_hostile(run, case.status), **own}.items()
        if name not in legitimate
    }
    caller = {"anon": {}, "a": run.a.headers, "admin": people.admin.headers}[case.caller]
    url = path.format(**run.ids)

    before = await table_counts(harness_app) if case.outcome == "rejected" else {}
    response = await _send(run, method, url, caller, built, extras)
    if case.outcome == "rejected":
        assert response.status_code == 422, response.text
        details = response.json()["error"]["details"]
        assert {(tuple(d["loc"]), d["type"]) for d in details} == {
            (("body", name), "extra_forbidden") for name in extras
        }
        assert await table_counts(harness_app) == before, "a rejected request changed rows"
        response = await _send(run, method, url, caller, built, {})
        if case.merits is not None:
            assert (response.status_code, response.json()["error"]["code"]) == case.merits
            assert await table_counts(harness_app) == before, "a refused request changed rows"
            return
    assert 200 <= response.status_code < 300, response.text
    await case.check(run, response)
