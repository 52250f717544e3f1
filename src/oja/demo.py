"""``oja demo``: walk each module's main flow (sign-up, OTP, Google, API keys, files,
documents and query, chat, Paystack, Stripe, the marketplace) against a running Oja, over HTTP, and
print a table. The marketplace needs an operator to approve its stores (``--admin-email``,
``--admin-password``: an account made with ``oja create-admin``).

Oja must run with the sandbox (``oja serve --sandbox``) so that Google sign-in, the payment
checkouts and the models are the local fakes: the demo follows the URLs Oja hands out (the Google
consent redirect, the Paystack and Stripe checkout pages) and presses the fakes' buttons itself. A
flow whose routes Oja does not serve (its module is not installed) is reported as skipped; once a
step of a flow fails, the rest of that flow is not attempted. Every request and every poll is
bounded. This module talks HTTP only: it imports nothing from Oja.
"""

from __future__ import annotations

import io
import re
import secrets
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO
from urllib.parse import urlsplit

import httpx

from oja import demo_market
from oja.demo_market import Fakes

Outcome = Literal["ok", "failed", "skipped"]
MARKS: dict[Outcome, str] = {"ok": "✓", "failed": "✗", "skipped": "–"}
ABSENT = "skipped (module absent)"
PASSWORD = "demo-Passw0rd-long-enough"  # noqa: S105 - a throwaway demo account
DOCUMENT_FACT = "MANGO-42"
DOCUMENT_TEXT = f"""Oja warehouse handbook

The Ikeja warehouse opens at 7 am and closes at 6 pm from Monday to Saturday. Vendors drop
parcels at bay 3; couriers collect them from bay 5.

Pickup codes. Every courier gives the pickup code at the gate. The pickup code for the Ikeja
warehouse is {DOCUMENT_FACT}. Codes change on the first day of each month.

Returns. A customer may return an item within 14 days. The vendor refunds the customer after the
warehouse confirms the item is back on the shelf.
"""
QUESTION = "What is the pickup code for the Ikeja warehouse?"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


@dataclass(slots=True)
class Step:
    flow: str
    name: str
    request: str
    expected: str
    got: str
    outcome: Outcome
    ms: float | None = None


class FlowStopped(Exception):
    """A step failed or was skipped: the rest of its flow cannot run."""


@dataclass(slots=True)
class Account:
    email: str
    token: str | None = None


@dataclass
class Walk:
    """The HTTP client, the steps so far, and the state flows hand to one another."""

    client: httpx.Client
    base_url: str
    poll_timeout: float
    paths: set[str] | None
    """Paths Oja serves (from its OpenAPI document); None when unknown (everything assumed)."""
    out: TextIO
    steps: list[Step] = field(default_factory=list)
    flow: str = ""
    account: Account | None = None
    admin: tuple[str, str] | None = None
    """The operator's email and password (``--admin-email``/``--admin-password``): the
    marketplace flow needs someone to approve its stores."""
    fakes: Fakes = field(default_factory=Fakes)
    """Where the sandbox's fakes keep their records (the marketplace's payouts and inboxes)."""

    # -- recording ---------------------------------------------------------------------------

    def record(self, step: Step) -> Step:
        self.steps.append(step)
        self.out.write(_row(step) + "\n")
        self.out.flush()
        return step

    def skip(self, name: str, reason: str) -> None:
        self.record(Step(self.flow, name, "", "", reason, "skipped"))

    def serves(self, *paths: str) -> bool:
        return self.paths is None or all(p in self.paths for p in paths)

    def bearer(self) -> dict[str, str]:
        if self.account is None or self.account.token is None:
            raise FlowStopped("no signed-in user (the sign-up flow failed)")
        return {"Authorization": f"Bearer {self.account.token}"}

    # -- requests ----------------------------------------------------------------------------

    def call(
        self,
        name: str,
        method: str,
        url: str,
        *,
        expect: int | tuple[int, ...],
        expected: str | None = None,
        check: Callable[[httpx.Response], bool] | None = None,
        show: Callable[[httpx.Response], str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One request; the step passes when the status is expected and ``check`` holds."""
        statuses = (expect,) if isinstance(expect, int) else expect
        want = expected or "/".join(str(s) for s in statuses)
        started = time.perf_counter()
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            self._fail(
                name,
                method,
                url,
                expected=want,
                got=f"{type(exc).__name__}: {exc}",
                started=started,
            )
        ms = (time.perf_counter() - started) * 1000
        passed, got = _judge(response, statuses, check, show)
        self.record(
            Step(
                self.flow,
                name,
                _request(method, url, self.base_url),
                want,
                got,
                "ok" if passed else "failed",
                ms,
            )
        )
        if not passed:
            raise FlowStopped(got)
        return response

    def poll(
        self,
        name: str,
        url: str,
        *,
        until: Callable[[httpx.Response], bool],
        expected: str,
        show: Callable[[httpx.Response], str],
        give_up: Callable[[httpx.Response], bool] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """GET ``url`` until ``until`` holds (one step), ``give_up`` holds or the time is up."""
        started = time.perf_counter()
        deadline = time.monotonic() + self.poll_timeout
        delay = 0.1
        polls = 0
        while True:
            polls += 1
            try:
                response = self.client.get(url, **kwargs)
            except httpx.HTTPError as exc:
                self._fail(
                    name,
                    "GET",
                    url,
                    expected=expected,
                    got=f"{type(exc).__name__}: {exc}",
                    started=started,
                )
            passed, got = _judge(response, (200,), until, show)
            finished = passed or (give_up is not None and _holds(give_up, response))
            if finished or time.monotonic() + delay > deadline:
                break
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)
        if not passed and not finished:
            got = f"{got} after {self.poll_timeout:g} s"
        self.record(
            Step(
                self.flow,
                f"{name} ({polls} polls)",
                _request("GET", url, self.base_url),
                expected,
                got,
                "ok" if passed else "failed",
                (time.perf_counter() - started) * 1000,
            )
        )
        if not passed:
            raise FlowStopped(got)
        return response

    def _fail(
        self, name: str, method: str, url: str, *, expected: str, got: str, started: float
    ) -> Any:
        ms = (time.perf_counter() - started) * 1000
        request = _request(method, url, self.base_url)
        self.record(Step(self.flow, name, request, expected, got, "failed", ms))
        raise FlowStopped(got)


def _holds(predicate: Callable[[httpx.Response], Any], response: httpx.Response) -> bool:
    try:
        return bool(predicate(response))
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return False


def _judge(
    response: httpx.Response,
    statuses: tuple[int, ...],
    check: Callable[[httpx.Response], bool] | None,
    show: Callable[[httpx.Response], str] | None,
) -> tuple[bool, str]:
    passed = response.status_code in statuses and (check is None or _holds(check, response))
    detail = ""
    if show is not None and response.status_code in statuses:
        try:
            detail = show(response)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            detail = f"unexpected body ({type(exc).__name__}: {exc})"
    elif response.status_code not in statuses:
        detail = _error_summary(response)
    return passed, f"{response.status_code} {detail}".strip()


def _error_summary(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:120].replace("\n", " ")
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"{error.get('code')}: {error.get('message')}"
    return str(body)[:120]


def _request(method: str, url: str, base_url: str) -> str:
    """``METHOD path`` for Oja, ``METHOD host:port/path`` elsewhere; ids and tokens shortened."""
    parts = urlsplit(url)
    local = url.startswith(("/", base_url))
    path = "/".join(_segment(s) for s in parts.path.split("/")) or "/"
    return f"{method} {path}" if local else f"{method} {parts.netloc}{path}"


def _segment(segment: str) -> str:
    if _UUID.fullmatch(segment):
        return "{id}"
    return segment if len(segment) <= 20 else segment[:10] + "…"


# -- flows ---------------------------------------------------------------------------------------


def sign_up(w: Walk) -> None:
    email = f"demo-{secrets.token_hex(4)}@example.com"
    w.call(
        "sign up (email + password)",
        "POST",
        "/auth/signup",
        json={"email": email, "password": PASSWORD, "name": "Demo User"},
        expect=201,
        check=lambda r: r.json()["email"] == email,
        show=lambda r: f"user {r.json()['id'][:8]}…",
    )
    login = w.call(
        "log in",
        "POST",
        "/auth/login",
        json={"email": email, "password": PASSWORD},
        expect=200,
        check=lambda r: bool(r.json()["access_token"]),
        show=lambda r: f"{r.json()['token_type']} token, {r.json()['expires_in']} s",
    )
    w.account = Account(email, login.json()["access_token"])
    w.call(
        "who am I",
        "GET",
        "/user/me",
        headers=w.bearer(),
        expect=200,
        expected=f"200 {email[:14]}…",
        check=lambda r: r.json()["email"] == email,
        show=lambda r: str(r.json()["email"]),
    )


def otp_login(w: Walk) -> None:
    mobile = f"+234803{secrets.randbelow(10**7):07d}"
    sent = w.call(
        "send OTP",
        "POST",
        "/auth/send-otp",
        json={"mobile": mobile},
        expect=200,
        expected="200 with the code",
        check=lambda r: bool(r.json()["otp"]),
        show=lambda r: f"otp {'shown' if r.json().get('otp') else 'not shown'}",
    )
    verified = w.call(
        "verify OTP",
        "POST",
        "/auth/verify-otp",
        json={"mobile": mobile, "otp": sent.json()["otp"]},
        expect=200,
        check=lambda r: bool(r.json()["access_token"]),
        show=lambda r: "token pair",
    )
    w.call(
        "who am I (by OTP)",
        "GET",
        "/user/me",
        headers={"Authorization": f"Bearer {verified.json()['access_token']}"},
        expect=200,
        expected=f"200 {mobile}",
        check=lambda r: r.json()["mobile"] == mobile,
        show=lambda r: str(r.json()["mobile"]),
    )


def google_login(w: Walk) -> None:
    start = w.call(
        "start Google sign-in",
        "GET",
        "/auth/google",
        expect=302,
        expected="302 to Google",
        check=lambda r: "code_challenge=" in r.headers["location"],
        show=lambda r: f"→ {urlsplit(r.headers['location']).netloc}",
    )
    consent = w.call(
        "Google consents",
        "GET",
        start.headers["location"],
        expect=302,
        expected="302 to the callback",
        check=lambda r: "code=" in r.headers["location"],
        show=lambda r: f"→ {urlsplit(r.headers['location']).path}",
    )
    signed_in = w.call(
        "callback signs in",
        "GET",
        consent.headers["location"],
        expect=200,
        expected="200 with tokens",
        check=lambda r: bool(r.json()["access_token"]),
        show=lambda r: f"{r.json()['email']}{' (new)' if r.json()['created'] else ''}",
    )
    email = signed_in.json()["email"]
    w.call(
        "who am I (by Google)",
        "GET",
        "/user/me",
        headers={"Authorization": f"Bearer {signed_in.json()['access_token']}"},
        expect=200,
        expected=f"200 {email}",
        check=lambda r: r.json()["email"] == email,
        show=lambda r: str(r.json()["email"]),
    )


def api_key(w: Walk) -> None:
    created = w.call(
        "create an API key",
        "POST",
        "/keys/create",
        headers=w.bearer(),
        json={"name": "demo", "scopes": ["examples:read", "files:read"]},
        expect=201,
        check=lambda r: r.json()["key"].startswith(r.json()["prefix"]),
        show=lambda r: f"{r.json()['prefix']}…",
    )
    key = created.json()["key"]
    w.call(
        "call a scoped route with it",
        "GET",
        "/examples/service-only",
        headers={"X-API-Key": key},
        expect=200,
        expected="200 as a service",
        check=lambda r: r.json()["kind"] == "service" and "examples:read" in r.json()["scopes"],
        show=lambda r: f"{r.json()['kind']} {','.join(r.json()['scopes'])}",
    )
    w.call(
        "a user token is refused there",
        "GET",
        "/examples/service-only",
        headers=w.bearer(),
        expect=403,
        show=lambda r: "",
    )


def image_upload(w: Walk) -> None:
    uploaded = w.call(
        "upload a JPEG",
        "POST",
        "/upload",
        headers=w.bearer(),
        files={"file": ("sunset.jpg", _jpeg(1200, 800), "image/jpeg")},
        data={"title": "Demo sunset"},
        expect=201,
        show=lambda r: f"{r.json()['status']}, {r.json()['size']} bytes",
    )
    file_id = uploaded.json()["id"]
    w.poll(
        "processing",
        f"/upload/{file_id}/status",
        headers=w.bearer(),
        until=lambda r: r.json()["status"] == "processed",
        give_up=lambda r: r.json()["status"] == "failed",
        expected="processed",
        show=lambda r: (
            f"{r.json()['status']} {r.json()['progress']}%"
            + (f" {r.json()['error']}" if r.json().get("error") else "")
        ),
    )
    result = w.call(
        "result with variants",
        "GET",
        f"/upload/{file_id}/result",
        headers=w.bearer(),
        expect=200,
        expected="200 with variants",
        check=lambda r: bool(r.json()["variants"]),
        show=lambda r: ", ".join(sorted(r.json()["variants"])),
    )
    variants = result.json()["variants"]
    name = "thumbnail" if "thumbnail" in variants else sorted(variants)[0]
    w.call(
        f"download the {name}",
        "GET",
        variants[name]["url"],
        expect=200,
        expected="200 image",
        check=lambda r: r.headers.get("content-type", "").startswith("image/"),
        show=lambda r: f"{r.headers.get('content-type')}, {len(r.content)} bytes",
    )


def document_and_query(w: Walk) -> None:
    uploaded = w.call(
        "upload a TXT document",
        "POST",
        "/documents/upload",
        headers=w.bearer(),
        files={"file": ("handbook.txt", DOCUMENT_TEXT.encode(), "text/plain")},
        expect=201,
        show=lambda r: f"{r.json()['status']}, {r.json()['content_type']}",
    )
    document_id = uploaded.json()["document_id"]
    analysed = w.call(
        "analyze",
        "POST",
        f"/documents/{document_id}/analyze",
        headers=w.bearer(),
        expect=(200, 202),
        expected="200 summary (or 202)",
        show=lambda r: (
            f"{r.json()['document_type']}: {r.json()['summary'][:30]}…"
            if r.status_code == 200
            else f"{r.json()['status']}, still running"
        ),
    )
    if analysed.status_code == 202:
        _document_completed(w, document_id, "analysis")
    w.call(
        "process",
        "POST",
        f"/documents/{document_id}/process",
        headers=w.bearer(),
        expect=202,
        show=lambda r: str(r.json()["status"]),
    )
    _document_completed(w, document_id, "status")
    w.call(
        "result",
        "GET",
        f"/documents/{document_id}/result",
        headers=w.bearer(),
        expect=200,
        expected="200 with a summary",
        check=lambda r: bool(r.json()["summary"]),
        show=lambda r: f"{r.json()['document_type']}",
    )
    if not w.serves("/query"):
        w.flow = "rag"
        w.skip("query the document", ABSENT)
        return
    w.flow = "rag"
    w.poll(
        "indexed",
        f"/documents/{document_id}",
        headers=w.bearer(),
        until=lambda r: r.json()["chunk_count"] > 0,
        expected="chunk_count > 0",
        show=lambda r: f"{r.json()['chunk_count']} chunks",
    )
    w.call(
        "query it",
        "POST",
        "/query",
        headers=w.bearer(),
        json={"question": QUESTION, "document_ids": [document_id]},
        expect=200,
        expected=f"200 answer with {DOCUMENT_FACT}",
        check=lambda r: (
            DOCUMENT_FACT in r.json()["answer"]
            and any(c["document_id"] == document_id for c in r.json()["citations"])
        ),
        show=lambda r: f"{r.json()['provider']}: {r.json()['answer'][:40]}",
    )


def _document_completed(w: Walk, document_id: str, name: str) -> None:
    w.poll(
        name,
        f"/documents/{document_id}/status",
        headers=w.bearer(),
        until=lambda r: r.json()["status"] == "COMPLETED",
        give_up=lambda r: r.json()["status"] == "FAILED",
        expected="COMPLETED",
        show=lambda r: (
            f"{r.json()['status']} {r.json()['progress']}%"
            + (f" {r.json()['message']}" if r.json()["status"] == "FAILED" else "")
        ),
    )


def chat(w: Walk) -> None:
    room = w.call(
        "create a chatroom",
        "POST",
        "/chatroom",
        headers=w.bearer(),
        json={"title": "Demo room"},
        expect=201,
        show=lambda r: f"room {r.json()['id'][:8]}…",
    )
    url = f"/chatroom/{room.json()['id']}/message"
    for n in range(1, 6):
        w.call(
            f"message {n} of 5 (Basic)",
            "POST",
            url,
            headers=w.bearer(),
            json={"content": f"Hello Oja, this is message {n}. What can you do?"},
            expect=(201, 202),
            expected="201 with a reply",
            show=lambda r: (
                f"{r.json()['assistant_message']['provider']}: "
                f"{r.json()['assistant_message']['content'][:24]}…"
                if r.json()["assistant_message"]
                else str(r.json()["status"])
            ),
        )
    w.call(
        "message 6 is over the quota",
        "POST",
        url,
        headers=w.bearer(),
        json={"content": "One more, please."},
        expect=429,
        show=lambda r: f"{r.json()['error']['code']}, Retry-After {r.headers.get('retry-after')}",
    )


def paystack(w: Walk) -> None:
    started = w.call(
        "initiate ₦2,500",
        "POST",
        "/payments/paystack/initiate",
        headers={**w.bearer(), "Idempotency-Key": secrets.token_hex(8)},
        json={"amount": 250_000, "currency": "NGN"},
        expect=201,
        expected="201 checkout URL",
        check=lambda r: r.json()["authorization_url"].startswith("http"),
        show=lambda r: f"{r.json()['reference'][:16]} {r.json()['status']}",
    )
    reference = started.json()["reference"]
    checkout = started.json()["authorization_url"]
    demo_market.pay_on_hosted_page(
        w, checkout, opened="open the checkout", page="checkout page", paid="success"
    )
    w.poll(
        "payment status",
        f"/payments/{reference}/status",
        headers=w.bearer(),
        until=lambda r: r.json()["status"] == "success",
        give_up=lambda r: r.json()["status"] == "failed",
        expected="success",
        show=lambda r: f"{r.json()['status']} {r.json()['currency']} {r.json()['amount']}",
    )


def stripe(w: Walk) -> None:
    w.call(
        "tier before",
        "GET",
        "/subscription/status",
        headers=w.bearer(),
        expect=200,
        expected="200 basic",
        check=lambda r: r.json()["tier"] == "basic",
        show=lambda r: str(r.json()["tier"]),
    )
    started = w.call(
        "subscribe to Pro",
        "POST",
        "/subscribe/pro",
        headers={**w.bearer(), "Idempotency-Key": secrets.token_hex(8)},
        expect=200,
        expected="200 checkout URL",
        check=lambda r: r.json()["checkout_url"].startswith("http"),
        show=lambda r: f"{r.json()['session_id'][:20]}…",
    )
    checkout = started.json()["checkout_url"]
    w.call(
        "open the checkout",
        "GET",
        checkout,
        expect=200,
        expected="200 page with Complete",
        check=lambda r: "/complete" in r.text,
        show=lambda r: "checkout page",
    )
    w.call(
        "complete (fake sends webhooks)",
        "POST",
        f"{checkout}/complete",
        headers={"Accept": "application/json"},
        expect=200,
        expected="webhooks 200",
        check=lambda r: all(s == 200 for s in r.json()["webhook_statuses"]),
        show=lambda r: f"webhooks {r.json()['webhook_statuses']}",
    )
    w.poll(
        "tier after",
        "/subscription/status",
        headers=w.bearer(),
        until=lambda r: r.json()["tier"] == "pro",
        expected="pro",
        show=lambda r: f"{r.json()['tier']} ({r.json()['status']})",
    )


# -- the marketplace (seed 003) ---------------------------------------------------------------


def _signed_in(w: Walk, name: str, email: str, password: str) -> dict[str, str]:
    login = w.call(
        name,
        "POST",
        "/auth/login",
        json={"email": email, "password": password},
        expect=200,
        show=lambda r: f"{r.json()['token_type']} token",
    )
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def _store(w: Walk, label: str, admin: dict[str, str], product: str, price: int) -> dict[str, Any]:
    """A vendor signs up, opens a store the operator approves, and lists one product."""
    email = f"{label.lower()}-{secrets.token_hex(4)}@example.com"
    w.call(
        f"{label}: vendor signs up",
        "POST",
        "/auth/signup",
        json={"email": email, "password": PASSWORD},
        expect=201,
        show=lambda r: f"user {r.json()['id'][:8]}…",
    )
    vendor = _signed_in(w, f"{label}: vendor logs in", email, PASSWORD)
    opened = w.call(
        f"{label}: opens a store",
        "POST",
        "/vendors",
        headers=vendor,
        json={"name": f"{label} {secrets.token_hex(3)}", "contact_email": email},
        expect=201,
        expected="201 pending",
        check=lambda r: r.json()["status"] == "pending",
        show=lambda r: f"{r.json()['slug']} {r.json()['status']}",
    )
    store_id = opened.json()["id"]
    w.call(
        f"{label}: operator approves it",
        "POST",
        f"/admin/vendors/{store_id}/approve",
        headers=admin,
        json={},
        expect=200,
        expected="200 approved",
        check=lambda r: r.json()["status"] == "approved",
        show=lambda r: str(r.json()["status"]),
    )
    listed = w.call(
        f"{label}: lists {product}",
        "POST",
        "/products",
        headers=vendor,
        json={
            "title": product,
            "description": f"{product}, made by hand in Lagos.",
            "status": "active",
            "variants": [{"sku": f"{label[:3].upper()}-1", "price": price, "stock": 5}],
        },
        expect=201,
        show=lambda r: f"{r.json()['title']} ₦{r.json()['price'] / 100:,.0f}",
    )
    return {
        "headers": vendor,
        "id": store_id,
        "product": listed.json()["id"],
        "variant": listed.json()["variants"][0]["id"],
    }


def _status_is(state: str) -> Callable[[httpx.Response], bool]:
    return lambda r: bool(r.json()["status"] == state)


def _vendor_order(w: Walk, label: str, store: dict[str, Any], order: str) -> None:
    w.call(
        f"{label}: sees the paid order",
        "GET",
        f"/vendors/me/orders/{order}",
        headers=store["headers"],
        expect=200,
        expected="200 confirmed",
        check=lambda r: r.json()["status"] == "confirmed",
        show=lambda r: f"{r.json()['status']} ₦{r.json()['total'] / 100:,.0f}",
    )
    for action, body, state in (
        (
            "ship",
            {"carrier": "GIG Logistics", "tracking_number": f"GIG{secrets.token_hex(3)}"},
            "shipped",
        ),
        ("deliver", {}, "delivered"),
    ):
        w.call(
            f"{label}: {action}s it",
            "POST",
            f"/vendors/me/orders/{order}/{action}",
            headers=store["headers"],
            json=body,
            expect=200,
            expected=f"200 {state}",
            check=_status_is(state),
            show=lambda r: str(r.json()["status"]),
        )


def marketplace(w: Walk) -> None:
    """Two stores onboard; the demo user searches, carts both, pays once, both stores ship; one
    line comes back and is refunded; the buyer reviews the other; notifications arrive."""
    if w.admin is None:
        w.skip("(every step)", "skipped (no operator: pass --admin-email and --admin-password)")
        return
    admin = _signed_in(w, "operator logs in", *w.admin)
    tag = secrets.token_hex(3)
    adire = _store(w, "Adire", admin, f"Adire indigo wrap {tag}", 1_500_000)
    beads = _store(w, "Beads", admin, f"Coral bead necklace {tag}", 850_000)
    demo_market.csv_import(w, beads)
    demo_market.aliexpress_import(w, adire)
    buyer = w.bearer()
    w.call(
        "buyer searches",
        "GET",
        "/search",
        params={"q": tag},
        expect=200,
        expected="200 both products, facets",
        check=lambda r: (
            {i["id"] for i in r.json()["items"]} == {adire["product"], beads["product"]}
            and "facets" in r.json()
        ),
        show=lambda r: f"{r.json()['total']} found",
    )
    w.call(
        "buyer asks for recommendations",
        "GET",
        "/recommendations",
        headers=buyer,
        expect=200,
        show=lambda r: f"{len(r.json()['items'])} suggested",
    )
    for store in (adire, beads):
        w.call(
            "buyer carts a product",
            "POST",
            "/cart/items",
            headers=buyer,
            json={"variant_id": store["variant"], "quantity": 1},
            expect=201,
            show=lambda r: f"₦{r.json()['total'] / 100:,.0f} in cart",
        )
    placed = w.call(
        "buyer checks out two stores",
        "POST",
        "/checkout",
        headers={**buyer, "Idempotency-Key": secrets.token_hex(8)},
        json={
            "shipping_address": {
                "name": "Ada Obi",
                "line1": "12 Allen Avenue",
                "city": "Ikeja",
                "state": "Lagos",
                "country": "NG",
                "phone": "+2348012345678",
            }
        },
        expect=201,
        expected="201 one payment, 2 orders",
        check=lambda r: len(r.json()["orders"]) == 2,
        show=lambda r: f"₦{r.json()['total'] / 100:,.0f}, {len(r.json()['orders'])} orders",
    )
    group = placed.json()
    orders = {o["vendor_id"]: o for o in group["orders"]}
    w.call(
        "pay once (fake sends the webhook)",
        "POST",
        f"{group['payment']['authorization_url']}/pay",
        headers={"Accept": "application/json"},
        expect=200,
        expected="success, webhook 200",
        check=lambda r: r.json()["status"] == "success" and r.json()["webhook_status"] == 200,
        show=lambda r: f"{r.json()['status']}, webhook {r.json()['webhook_status']}",
    )
    w.poll(
        "the order group is paid",
        f"/order-groups/{group['order_group_id']}",
        headers=buyer,
        until=lambda r: r.json()["status"] == "paid",
        expected="paid",
        show=lambda r: str(r.json()["status"]),
    )
    _vendor_order(w, "Adire", adire, orders[adire["id"]]["id"])
    _vendor_order(w, "Beads", beads, orders[beads["id"]]["id"])
    returned = orders[adire["id"]]
    asked = w.call(
        "buyer returns the wrap",
        "POST",
        f"/orders/{returned['id']}/returns",
        headers=buyer,
        json={
            "lines": [{"order_line_id": returned["lines"][0]["id"], "quantity": 1}],
            "reason": "The colour is not what I expected",
        },
        expect=201,
        show=lambda r: str(r.json()["status"]),
    )
    for action in ("approve", "receive"):
        w.call(
            f"Adire: {action}s the return",
            "POST",
            f"/vendors/me/returns/{asked.json()['id']}/{action}",
            headers=adire["headers"],
            json={},
            expect=200,
            show=lambda r: str(r.json()["status"]),
        )
    # The provider takes the refund at once and pays it back later (Paystack: refund.processed,
    # days in production); the demo waits for the provider to have accepted it.
    w.poll(
        "the provider takes the refund",
        f"/orders/{returned['id']}",
        headers=buyer,
        until=lambda r: r.json()["refunds"][0]["status"] in ("processing", "processed"),
        expected="refund processing",
        show=lambda r: (
            f"₦{r.json()['refunds'][0]['amount'] / 100:,.0f} {r.json()['refunds'][0]['status']}"
        ),
    )
    w.call(
        "buyer reviews the necklace",
        "POST",
        f"/products/{beads['product']}/reviews",
        headers=buyer,
        json={"rating": 5, "title": "Lovely work", "body": "The beads are even and strong."},
        expect=201,
        show=lambda r: f"{r.json()['rating']}★ {r.json()['status']}",
    )
    w.poll(
        "buyer's notifications",
        "/notifications",
        headers=buyer,
        until=lambda r: r.json()["total"] > 0,
        expected="order notifications",
        show=lambda r: f"{r.json()['total']} in-app",
    )
    second = demo_market.flutterwave_order(w, adire, PASSWORD, _vendor_order)
    demo_market.payouts(w, admin, {"Adire": adire, "Beads": beads})
    demo_market.inboxes(w, second)
    w.call(
        "Beads: reads its balance",
        "GET",
        "/vendors/me/balance",
        headers=beads["headers"],
        expect=200,
        show=lambda r: str(r.json())[:40],
    )
    _traffic_limit(w, beads)


TRAFFIC_DEMO_MAX = 50
"""The most visitors the demo signs up to fill a store's allowance (the free tier is 20)."""


def _traffic_limit(w: Walk, store: dict[str, Any]) -> None:
    """New visitors fill the store's plan allowance; the next one is refused."""
    usage = w.call(
        "Beads: its traffic allowance",
        "GET",
        "/vendors/me/subscription",
        headers=store["headers"],
        expect=200,
        show=lambda r: (
            f"{r.json()['plan']}: {r.json()['usage']['users']} of "
            f"{r.json()['usage']['limit']} users"
        ),
    ).json()["usage"]
    if usage["limit"] is None or usage["remaining"] > TRAFFIC_DEMO_MAX:
        w.skip("a visitor beyond the limit", f"skipped (allowance {usage['limit']})")
        return
    for _ in range(usage["remaining"]):
        email = f"visitor-{secrets.token_hex(4)}@example.com"
        w.client.post("/auth/signup", json={"email": email, "password": PASSWORD})
        token = w.client.post("/auth/login", json={"email": email, "password": PASSWORD})
        visitor = {"Authorization": f"Bearer {token.json()['access_token']}"}
        w.client.get(f"/products/{store['product']}", headers=visitor)
    w.call(
        f"{usage['remaining']} new visitors fill it",
        "GET",
        "/vendors/me/subscription",
        headers=store["headers"],
        expect=200,
        expected="0 remaining",
        check=lambda r: r.json()["usage"]["remaining"] == 0,
        show=lambda r: f"{r.json()['usage']['users']} of {r.json()['usage']['limit']} users",
    )
    email = f"visitor-{secrets.token_hex(4)}@example.com"
    w.client.post("/auth/signup", json={"email": email, "password": PASSWORD})
    late = _signed_in(w, "one more visitor signs in", email, PASSWORD)
    w.call(
        "and is turned away",
        "GET",
        f"/products/{store['product']}",
        headers=late,
        expect=403,
        expected="403 store_traffic_limit",
        check=lambda r: r.json()["error"]["code"] == "store_traffic_limit",
        show=lambda r: str(r.json()["error"]["code"]),
    )


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    run: Callable[[Walk], None]
    paths: tuple[str, ...]
    """Routes the flow needs; absent ones mean its module is not installed."""
    needs_user: bool = True


FLOWS = (
    Flow("identity", sign_up, ("/auth/signup", "/auth/login", "/user/me"), needs_user=False),
    Flow("otp", otp_login, ("/auth/send-otp", "/auth/verify-otp"), needs_user=False),
    Flow("google", google_login, ("/auth/google", "/auth/google/callback"), needs_user=False),
    Flow("api keys", api_key, ("/keys/create", "/examples/service-only")),
    Flow("files", image_upload, ("/upload", "/upload/{file_id}/status")),
    Flow("documents", document_and_query, ("/documents/upload",)),
    Flow("chat", chat, ("/chatroom", "/chatroom/{chatroom_id}/message")),
    Flow("paystack", paystack, ("/payments/paystack/initiate", "/payments/{reference}/status")),
    Flow("stripe", stripe, ("/subscribe/pro", "/subscription/status")),
    Flow("market", marketplace, ("/vendors", "/checkout", "/search")),
)
"""In order: chat runs before Stripe, since a Pro user has no daily prompt limit to hit."""


def _jpeg(width: int, height: int) -> bytes:
    from PIL import Image

    red = Image.linear_gradient("L").resize((width, height))
    green = red.transpose(Image.Transpose.ROTATE_90).resize((width, height))
    blue = Image.new("L", (width, height), 96)
    buffer = io.BytesIO()
    Image.merge("RGB", (red, green, blue)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


# -- the table -----------------------------------------------------------------------------------

COLUMNS = (("flow", 9), ("step", 32), ("request", 38), ("expected", 24), ("got", 40))


def _cell(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "…"


def _row(step: Step) -> str:
    cells = [
        _cell(value, width)
        for value, (_, width) in zip(
            (step.flow, step.name, step.request, step.expected, step.got), COLUMNS, strict=True
        )
    ]
    ms = "" if step.ms is None else f"{step.ms:.0f}"
    return "  ".join([*cells, MARKS[step.outcome], ms.rjust(6)])


def header() -> str:
    names = [_cell(name, width) for name, width in COLUMNS]
    line = "  ".join([*names, "✓", "ms".rjust(6)])
    return line + "\n" + "-" * len(line)


def summary(steps: Iterable[Step]) -> str:
    counts = {"ok": 0, "failed": 0, "skipped": 0}
    for step in steps:
        counts[step.outcome] += 1
    return f"{counts['ok']} passed, {counts['failed']} failed, {counts['skipped']} skipped"


def served_paths(client: httpx.Client) -> set[str] | None:
    """The paths in Oja's OpenAPI document, or None when it is not published."""
    try:
        response = client.get("/openapi.json")
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    return set(response.json().get("paths", {}))


def run(
    base_url: str,
    *,
    request_timeout: float = 30.0,
    poll_timeout: float = 90.0,
    out: TextIO | None = None,
    transport: httpx.BaseTransport | None = None,
    admin: tuple[str, str] | None = None,
    fakes: Fakes | None = None,
) -> int:
    """Walk every flow, printing each step as it ends; 0 when no step failed."""
    stream = out or sys.stdout
    base_url = base_url.rstrip("/")
    with httpx.Client(
        base_url=base_url,
        timeout=request_timeout,
        follow_redirects=False,
        transport=transport,
    ) as client:
        try:
            health = client.get("/healthz")
        except httpx.HTTPError as exc:
            stream.write(f"Oja is not reachable at {base_url}: {exc}\n")
            return 2
        if health.status_code != 200:
            stream.write(f"Oja at {base_url} answered /healthz with {health.status_code}\n")
            return 2
        walk = Walk(
            client,
            base_url,
            poll_timeout,
            served_paths(client),
            stream,
            admin=admin,
            fakes=fakes or Fakes(),
        )
        stream.write(f"Oja demo against {base_url}\n{header()}\n")
        for flow in FLOWS:
            walk.flow = flow.name
            if not walk.serves(*flow.paths):
                walk.skip("(every step)", ABSENT)
                continue
            if flow.needs_user and (walk.account is None or walk.account.token is None):
                walk.skip("(every step)", "skipped (no signed-in user)")
                continue
            try:
                flow.run(walk)
            except FlowStopped:
                continue
        stream.write(f"{summary(walk.steps)}\n")
        return 1 if any(s.outcome == "failed" for s in walk.steps) else 0
