"""The authorization matrix: every route × every kind of caller, with the status class expected.

Columns (callers):

* ``anon``  — no credentials;
* ``a``     — user A, a buyer, who owns every object the route names;
* ``b``     — user B, a buyer, who owns none of them;
* ``admin`` — a user with the admin role (not the owner);
* ``key``   — an API key of A's holding the route's scope (all scopes);
* ``nokey`` — an API key of A's holding every scope *but* the route's (one unrelated scope for
  routes that take no scope).

Cells: ``"2xx"``, ``"3xx"``, ``"4xx"`` (any client error: a public route whose body carries a secret
the caller does not have), an exact status (401, 403, 404, 409 …), or ``"auth"`` — the caller got
through authentication and authorization (any status below 500 except 401, 403 and 404) but the
request itself is refused for a reason of its own (a wrong one-time code, nothing to cancel).
No cell may answer 5xx.

Another user's object answers 404 (ARCHITECTURE §5.5), for the admin too: admins administer users
and roles, they do not read other people's files.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from oja.sandbox.paystack import SANDBOX_OTP
from tests.marketplace.world import IMAGE, IMPORT_CSV
from tests.reliability.harness import PASSWORD, Person, Principals

Cell = str | int
CALLERS = ("anon", "nokey", "b", "admin", "key", "a")  # the owner last: some routes consume


@dataclass
class Ctx:
    client: httpx.AsyncClient
    people: Principals
    caller: Person | None
    ids: dict[str, str] = field(default_factory=dict)
    run_jobs: Callable[[], Awaitable[None]] | None = None
    """Runs the jobs published so far (a chat reply must exist before its stream ends)."""
    app: Any = None
    """The app under test: orders are written straight to its tables (checkout is its own row)."""
    made: dict[str, Any] = field(default_factory=dict)
    """Objects the needs of one row share (B's store, A's store) beyond their ids."""


Builder = Callable[[Ctx], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    anon: Cell
    a: Cell
    b: Cell
    admin: Cell
    key: Cell
    nokey: Cell
    scope: str | None = None
    needs: tuple[str, ...] = ()
    request: Builder | None = None
    fresh: bool = False
    """The route consumes its object (delete, revoke): each caller gets a new one."""

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    def expected(self, caller: str) -> Cell:
        value: Cell = getattr(self, caller)
        return value


def matches(cell: Cell, status: int) -> bool:
    if status >= 500:
        return False
    if isinstance(cell, int):
        return status == cell
    if cell == "auth":
        return status not in {401, 403, 404}
    return str(status)[0] == cell[0]


def body(**json: Any) -> Builder:
    async def build(ctx: Ctx) -> dict[str, Any]:
        return {"json": json}

    return build


async def _signup_body(ctx: Ctx) -> dict[str, Any]:
    return {"json": {"email": f"new-{uuid.uuid4().hex[:10]}@example.com", "password": PASSWORD}}


async def _login_body(ctx: Ctx) -> dict[str, Any]:
    return {"json": {"email": ctx.people.a.email, "password": PASSWORD}}


async def _refresh_body(ctx: Ctx) -> dict[str, Any]:
    """A fresh refresh token of A's: the route is public, the token in the body is the credential."""
    login = await ctx.client.post(
        "/auth/login", json={"email": ctx.people.a.email, "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    return {"json": {"refresh_token": login.json()["refresh_token"]}}


async def _forgot_body(ctx: Ctx) -> dict[str, Any]:
    """Any address (the answer never tells whether an account exists); one per caller, so the
    per-address throttle does not answer 429."""
    return {"json": {"email": f"forgot-{uuid.uuid4().hex[:10]}@example.com"}}


def mobile() -> str:
    return "+23480" + "".join(random.choice("0123456789") for _ in range(8))


async def _mobile_body(ctx: Ctx) -> dict[str, Any]:
    return {"json": {"mobile": mobile()}}


async def _upload_body(ctx: Ctx) -> dict[str, Any]:
    return {"files": {"file": ("m.txt", b"matrix upload\n" * 8, "text/plain")}}


async def _document_body(ctx: Ctx) -> dict[str, Any]:
    return {"files": {"file": ("m.txt", b"A small document for the matrix.\n" * 8, "text/plain")}}


async def _money_body(ctx: Ctx) -> dict[str, Any]:
    return {"json": {"amount": 5000}, "headers": {"Idempotency-Key": uuid.uuid4().hex}}


async def _store_body(ctx: Ctx) -> dict[str, Any]:
    return {"json": {"name": f"Store {uuid.uuid4().hex[:6]}"}}


async def _staff_body(ctx: Ctx) -> dict[str, Any]:
    return {"json": {"user_id": ctx.people.b.id}}


async def _search_query(ctx: Ctx) -> dict[str, Any]:
    """Search is public: anyone, signed in or not, gets answers."""
    return {"params": {"q": "pho"}}


async def _category_body(ctx: Ctx) -> dict[str, Any]:
    return {"json": {"name": f"Category {uuid.uuid4().hex[:6]}"}}


async def _product_body(ctx: Ctx) -> dict[str, Any]:
    return {"json": {"title": "Matrix", "sku": f"P-{uuid.uuid4().hex[:8]}", "price": 100}}


async def _variant_body(ctx: Ctx) -> dict[str, Any]:
    return {"json": {"sku": f"V-{uuid.uuid4().hex[:8]}", "price": 100}}


SHIPPING = {"name": "Ada Obi", "line1": "12 Allen Avenue", "city": "Ikeja", "country": "NG"}


async def _checkout_body(ctx: Ctx) -> dict[str, Any]:
    return {
        "json": {"shipping_address": SHIPPING, "provider": "paystack"},
        "headers": {"Idempotency-Key": uuid.uuid4().hex},
    }


async def _cart_item_body(ctx: Ctx) -> dict[str, Any]:
    """B's product (the ``rival`` need), in the caller's own cart."""
    return {"json": {"variant_id": ctx.ids["rival_variant_id"]}}


async def _return_body(ctx: Ctx) -> dict[str, Any]:
    line = {"order_line_id": ctx.ids["order_line_id"], "quantity": 1}
    return {"json": {"lines": [line], "reason": "matrix"}}


async def _import_body(ctx: Ctx) -> dict[str, Any]:
    return {"files": {"file": ("products.csv", IMPORT_CSV, "text/csv")}}


async def _image_body(ctx: Ctx) -> dict[str, Any]:
    return {"files": {"file": ("front.png", IMAGE, "image/png")}}


async def _review_body(ctx: Ctx) -> dict[str, Any]:
    return {"json": {"rating": 4, "title": "Good", "body": "Arrived fresh."}}


async def _moderation_queue(ctx: Ctx) -> dict[str, Any]:
    return {"params": {"status": "flagged"}}


async def _report_range(ctx: Ctx) -> dict[str, Any]:
    return {"params": {"from": "2026-11-01", "to": "2026-11-30", "granularity": "week"}}


async def _idempotent(ctx: Ctx) -> dict[str, Any]:
    return {"headers": {"Idempotency-Key": uuid.uuid4().hex}}


MOBILE = "+2348031234567"

ROWS: tuple[Row, ...] = (
    # Operations: public.
    Row("GET", "/", "2xx", "2xx", "2xx", "2xx", "2xx", "2xx"),
    Row("GET", "/health", "2xx", "2xx", "2xx", "2xx", "2xx", "2xx"),
    Row("GET", "/healthz", "2xx", "2xx", "2xx", "2xx", "2xx", "2xx"),
    Row("GET", "/readyz", "2xx", "2xx", "2xx", "2xx", "2xx", "2xx"),
    Row("GET", "/metrics", "2xx", "2xx", "2xx", "2xx", "2xx", "2xx"),
    # Signed download URLs: the signature is the credential; a token never replaces it.
    Row("GET", "/storage/{key}", 403, 403, 403, 403, 403, 403, needs=("storage_key",)),
    # Public identity flows: every caller gets what anonymous gets.
    Row("POST", "/auth/signup", "2xx", "2xx", "2xx", "2xx", "2xx", "2xx", request=_signup_body),
    Row("POST", "/auth/login", "2xx", "2xx", "2xx", "2xx", "2xx", "2xx", request=_login_body),
    Row("POST", "/auth/refresh", "2xx", "2xx", "2xx", "2xx", "2xx", "2xx", request=_refresh_body),
    Row(
        "POST",
        "/auth/send-otp",
        "2xx",
        "2xx",
        "2xx",
        "2xx",
        "2xx",
        "2xx",
        request=_mobile_body,
    ),
    Row(
        "POST",
        "/auth/verify-otp",
        "4xx",
        "4xx",
        "4xx",
        "4xx",
        "4xx",
        "4xx",
        request=body(mobile=MOBILE, otp="000000"),
    ),
    Row(
        "POST",
        "/auth/forgot-password",
        "2xx",
        "2xx",
        "2xx",
        "2xx",
        "2xx",
        "2xx",
        request=_forgot_body,
    ),
    Row(
        "POST",
        "/auth/reset-password",
        "4xx",
        "4xx",
        "4xx",
        "4xx",
        "4xx",
        "4xx",
        request=body(token="x" * 32, new_password="another horse battery"),
    ),
    Row(
        "POST",
        "/auth/verify/email/confirm",
        "4xx",
        "4xx",
        "4xx",
        "4xx",
        "4xx",
        "4xx",
        request=body(token="x" * 32),
    ),
    Row("GET", "/auth/google", "3xx", "3xx", "3xx", "3xx", "3xx", "3xx"),
    Row("GET", "/auth/google/callback", "4xx", "4xx", "4xx", "4xx", "4xx", "4xx"),
    Row(
        "POST",
        "/auth/mfa/verify",
        "4xx",
        "4xx",
        "4xx",
        "4xx",
        "4xx",
        "4xx",
        request=body(mfa_token="x" * 40, code="000000"),
    ),
    # Authenticated identity routes: user tokens only (an API key cannot manage its own user).
    Row("POST", "/auth/logout", 401, "2xx", "2xx", "2xx", 403, 403),
    Row(
        "POST",
        "/auth/change-password",
        401,
        "2xx",
        "2xx",
        "2xx",
        403,
        403,
        request=body(current_password=PASSWORD, new_password="another horse battery 2"),
    ),
    Row("POST", "/auth/verify/email/request", 401, "2xx", "2xx", "2xx", 403, 403),
    Row(
        "POST",
        "/auth/verify/phone/request",
        401,
        "2xx",
        "2xx",
        "2xx",
        403,
        403,
        request=_mobile_body,
    ),
    Row(
        "POST",
        "/auth/verify/phone/confirm",
        401,
        "auth",
        "auth",
        "auth",
        403,
        403,
        request=body(otp="000000"),
    ),
    Row("POST", "/auth/mfa/setup", 401, "2xx", "2xx", "2xx", 403, 403),
    Row(
        "POST",
        "/auth/mfa/enable",
        401,
        "auth",
        "auth",
        "auth",
        403,
        403,
        request=body(code="000000"),
    ),
    Row(
        "POST",
        "/auth/mfa/disable",
        401,
        "auth",
        "auth",
        "auth",
        403,
        403,
        request=body(code="000000", password=PASSWORD),
    ),
    Row("GET", "/user/me", 401, "2xx", "2xx", "2xx", 403, 403),
    # Admin: roles are re-read from the database.
    Row("GET", "/users", 401, 403, 403, "2xx", 403, 403),
    Row("POST", "/users/{user_id}/roles/{role}", 401, 403, 403, "2xx", 403, 403, needs=("target",)),
    Row(
        "DELETE", "/users/{user_id}/roles/{role}", 401, 403, 403, "2xx", 403, 403, needs=("target",)
    ),
    # API keys: managed with a user token; a key is its owner's.
    Row(
        "POST",
        "/keys/create",
        401,
        "2xx",
        "2xx",
        "2xx",
        403,
        403,
        request=body(name="matrix", scopes=["files:read"]),
    ),
    Row("GET", "/keys", 401, "2xx", "2xx", "2xx", 403, 403),
    Row(
        "POST",
        "/keys/{key_id}/revoke",
        401,
        "2xx",
        404,
        404,
        403,
        403,
        needs=("key_id",),
        fresh=True,
    ),
    Row(
        "POST",
        "/keys/{key_id}/rotate",
        401,
        "2xx",
        404,
        404,
        403,
        403,
        needs=("key_id",),
        fresh=True,
    ),
    # The access demos.
    Row("GET", "/examples/user-only", 401, "2xx", "2xx", "2xx", 403, 403),
    Row("GET", "/examples/service-only", 401, 403, 403, 403, "2xx", 403, scope="examples:read"),
    Row("GET", "/examples/either", 401, "2xx", "2xx", "2xx", "2xx", 403, scope="examples:read"),
    # Files: user tokens or keys with the files scopes; another user's file is 404.
    Row(
        "POST",
        "/upload",
        401,
        "2xx",
        "2xx",
        "2xx",
        "2xx",
        403,
        scope="files:write",
        request=_upload_body,
    ),
    Row(
        "GET",
        "/upload/{file_id}/status",
        401,
        "2xx",
        404,
        404,
        "2xx",
        403,
        scope="files:read",
        needs=("file",),
    ),
    Row(
        "GET",
        "/upload/{file_id}/result",
        401,
        "auth",
        404,
        404,
        "auth",
        403,
        scope="files:read",
        needs=("file",),
    ),
    Row("GET", "/files", 401, "2xx", "2xx", "2xx", "2xx", 403, scope="files:read"),
    Row(
        "GET",
        "/files/{file_id}",
        401,
        "2xx",
        404,
        404,
        "2xx",
        403,
        scope="files:read",
        needs=("file",),
    ),
    Row(
        "DELETE",
        "/files/{file_id}",
        401,
        "2xx",
        404,
        404,
        "2xx",
        403,
        scope="files:write",
        needs=("file",),
        fresh=True,
    ),
    Row(
        "POST",
        "/files/{file_id}/retry",
        401,
        "auth",
        404,
        404,
        "auth",
        403,
        scope="files:write",
        needs=("file",),
    ),
    # Documents.
    Row(
        "POST",
        "/documents/upload",
        401,
        "2xx",
        "2xx",
        "2xx",
        "2xx",
        403,
        scope="documents:write",
        request=_document_body,
    ),
    Row("GET", "/documents", 401, "2xx", "2xx", "2xx", "2xx", 403, scope="documents:read"),
    Row(
        "GET",
        "/documents/{document_id}",
        401,
        "2xx",
        404,
        404,
        "2xx",
        403,
        scope="documents:read",
        needs=("document",),
    ),
    Row(
        "DELETE",
        "/documents/{document_id}",
        401,
        "2xx",
        404,
        404,
        "2xx",
        403,
        scope="documents:write",
        needs=("document",),
        fresh=True,
    ),
    Row(
        "POST",
        "/documents/{document_id}/analyze",
        401,
        "auth",
        404,
        404,
        "auth",
        403,
        scope="documents:write",
        needs=("document",),
    ),
    Row(
        "POST",
        "/documents/{document_id}/process",
        401,
        "auth",
        404,
        404,
        "auth",
        403,
        scope="documents:write",
        needs=("document",),
        request=_idempotent,
    ),
    Row(
        "GET",
        "/documents/{document_id}/status",
        401,
        "2xx",
        404,
        404,
        "2xx",
        403,
        scope="documents:read",
        needs=("document",),
    ),
    Row(
        "GET",
        "/documents/{document_id}/result",
        401,
        "auth",
        404,
        404,
        "auth",
        403,
        scope="documents:read",
        needs=("document",),
    ),
    # Retrieval.
    Row(
        "POST",
        "/query",
        401,
        "2xx",
        "2xx",
        "2xx",
        "2xx",
        403,
        scope="query",
        request=body(question="What is the total due?"),
    ),
    # Billing: money routes need a user (a key cannot spend), webhooks need a signature.
    Row(
        "POST",
        "/payments/paystack/initiate",
        401,
        "2xx",
        "2xx",
        "2xx",
        403,
        403,
        request=_money_body,
    ),
    Row(
        "GET",
        "/payments/{reference}/status",
        401,
        "2xx",
        404,
        404,
        403,
        403,
        needs=("payment",),
    ),
    Row(
        "POST",
        "/payments/{reference}/refund",
        401,
        "auth",
        404,
        404,
        403,
        403,
        needs=("payment",),
        request=_money_body,
    ),
    Row(
        "POST", "/payments/paystack/webhook", 400, 400, 400, 400, 400, 400, request=body(event="x")
    ),
    Row("POST", "/webhook/stripe", 400, 400, 400, 400, 400, 400, request=body(type="x")),
    Row("POST", "/subscribe/pro", 401, "2xx", "2xx", "2xx", 403, 403, request=_idempotent),
    Row("GET", "/subscription/status", 401, "2xx", "2xx", "2xx", 403, 403),
    # Nobody here subscribes: the user's own (absent) subscription is 404.
    Row("POST", "/subscription/cancel", 401, 404, 404, 404, 403, 403),
    Row("POST", "/subscription/portal", 401, 404, 404, 404, 403, 403),
    Row("GET", "/plans", "2xx", "2xx", "2xx", "2xx", "2xx", "2xx"),
    # Chat: user tokens only; another user's room is 404.
    Row("GET", "/chatroom", 401, "2xx", "2xx", "2xx", 403, 403),
    Row("POST", "/chatroom", 401, "2xx", "2xx", "2xx", 403, 403, request=body(title="matrix")),
    Row("GET", "/chatroom/{chatroom_id}", 401, "2xx", 404, 404, 403, 403, needs=("chatroom",)),
    Row(
        "PATCH",
        "/chatroom/{chatroom_id}",
        401,
        "2xx",
        404,
        404,
        403,
        403,
        needs=("chatroom",),
        request=body(title="renamed"),
    ),
    Row(
        "DELETE",
        "/chatroom/{chatroom_id}",
        401,
        "2xx",
        404,
        404,
        403,
        403,
        needs=("chatroom",),
        fresh=True,
    ),
    Row(
        "POST",
        "/chatroom/{chatroom_id}/message",
        401,
        "2xx",
        404,
        404,
        403,
        403,
        needs=("chatroom",),
        request=body(content="hello"),
    ),
    Row(
        "GET",
        "/chatroom/{chatroom_id}/messages/{message_id}",
        401,
        "2xx",
        404,
        404,
        403,
        403,
        needs=("chatroom", "message"),
    ),
    Row(
        "GET",
        "/chatroom/{chatroom_id}/messages/{message_id}/stream",
        401,
        "2xx",
        404,
        404,
        403,
        403,
        needs=("chatroom", "message"),
    ),
    # Marketplace. Vendor routes act for the caller's store: the admin belongs to none (403), and
    # API keys never act for a store (403). Public reads are open; a draft is A's alone. Where
    # the row needs ``rival``, B has a store of its own and A's object answers B 404; otherwise
    # B belongs to no store (403).
    Row("POST", "/vendors", 401, "2xx", "2xx", "2xx", 403, 403, request=_store_body),
    Row("GET", "/vendors/me", 401, "2xx", 403, 403, 403, 403, needs=("store",)),
    Row(
        "PATCH",
        "/vendors/me",
        401,
        "2xx",
        403,
        403,
        403,
        403,
        needs=("store",),
        request=body(description="matrix"),
    ),
    Row("GET", "/vendors/me/staff", 401, "2xx", 403, 403, 403, 403, needs=("store",)),
    Row(
        "POST",
        "/vendors/me/staff",
        401,
        "2xx",
        403,
        403,
        403,
        403,
        needs=("store",),
        request=_staff_body,
    ),
    # The store's last owner cannot be removed: A's own call is refused on its merits.
    Row("DELETE", "/vendors/me/staff/{user_id}", 401, 409, 403, 403, 403, 403, needs=("store",)),
    Row("GET", "/vendors/me/inventory", 401, "2xx", 403, 403, 403, 403, needs=("store",)),
    Row("GET", "/vendors/me/subscription", 401, "2xx", 403, 403, 403, 403, needs=("store",)),
    # A's store asks for a plan that does not exist (a real one would reach Paystack), and has no
    # paid plan to change or cancel: its own calls are refused on their merits.
    Row(
        "POST",
        "/vendors/me/subscription",
        401,
        422,
        403,
        403,
        403,
        403,
        needs=("store",),
        request=body(plan="vendor_gold_monthly"),
    ),
    Row(
        "POST",
        "/vendors/me/subscription/change",
        401,
        409,
        403,
        403,
        403,
        403,
        needs=("store",),
        request=body(plan="vendor_diamond_monthly"),
    ),
    Row("POST", "/vendors/me/subscription/cancel", 401, 409, 403, 403, 403, 403, needs=("store",)),
    Row("GET", "/vendor-plans", "2xx", "2xx", "2xx", "2xx", "2xx", "2xx"),
    Row("GET", "/vendors/me/discounts", 401, "2xx", 403, 403, 403, 403, needs=("store",)),
    Row("GET", "/vendors/me/balance", 401, "2xx", 403, 403, 403, 403, needs=("store",)),
    Row("GET", "/vendors/me/ledger", 401, "2xx", 403, 403, 403, 403, needs=("store",)),
    Row("GET", "/vendors/me/payouts", 401, "2xx", 403, 403, 403, 403, needs=("store",)),
    Row("GET", "/vendors/me/payout-account", 401, "2xx", 403, 403, 403, 403, needs=("store",)),
    # Resolved by the Paystack fake to a name unlike the store's: it waits for an admin.
    Row(
        "PUT",
        "/vendors/me/payout-account",
        401,
        "2xx",
        403,
        403,
        403,
        403,
        needs=("store",),
        request=body(bank_code="058", account_number="0123456789"),
    ),
    Row(
        "GET",
        "/vendors/me/reports/sales",
        401,
        "2xx",
        403,
        403,
        403,
        403,
        needs=("store",),
        request=_report_range,
    ),
    Row("GET", "/vendors/me/performance", 401, "2xx", 403, 403, 403, 403, needs=("store",)),
    Row(
        "POST",
        "/vendors/me/discounts",
        401,
        "2xx",
        403,
        403,
        403,
        403,
        needs=("store",),
        request=body(type="percentage", value=10, scope="store"),
    ),
    Row("GET", "/vendors/{id_or_slug}", "2xx", "2xx", "2xx", "2xx", "2xx", "2xx", needs=("store",)),
    Row(
        "POST",
        "/vendors/{vendor_id}/follow",
        401,
        "2xx",
        "2xx",
        "2xx",
        403,
        403,
        needs=("approved_store",),
    ),
    Row(
        "DELETE",
        "/vendors/{vendor_id}/follow",
        401,
        "2xx",
        "2xx",
        "2xx",
        403,
        403,
        needs=("approved_store",),
    ),
    # AliExpress: connecting acts for the caller's store; the callback is public and carries its
    # store in a signed state, so without a code and a state Oja signed it is refused to everyone.
    Row(
        "GET", "/integrations/aliexpress/connect", 401, "2xx", 403, 403, 403, 403, needs=("store",)
    ),
    Row("GET", "/integrations/aliexpress/callback", "4xx", "4xx", "4xx", "4xx", "4xx", "4xx"),
    Row(
        "GET", "/vendors/me/aliexpress/connection", 401, "2xx", 403, 403, 403, 403, needs=("store",)
    ),
    # A's store has connected no AliExpress account: its own calls are refused on their merits.
    Row("GET", "/vendors/me/aliexpress/search", 401, 409, 403, 403, 403, 403, needs=("store",)),
    Row(
        "GET",
        "/vendors/me/aliexpress/products/{ae_id}",
        401,
        409,
        403,
        403,
        403,
        403,
        needs=("store", "ae_product"),
    ),
    Row(
        "POST",
        "/vendors/me/aliexpress/imports",
        401,
        409,
        403,
        403,
        403,
        403,
        needs=("store",),
        request=body(products=["1005000000000001"]),
    ),
    Row(
        "GET",
        "/vendors/me/aliexpress/category-map",
        401,
        "2xx",
        403,
        403,
        403,
        403,
        needs=("store",),
    ),
    Row(
        "PUT",
        "/vendors/me/aliexpress/category-map",
        401,
        "2xx",
        403,
        403,
        403,
        403,
        needs=("store",),
        request=body(mappings=[]),
    ),
    Row("GET", "/admin/aliexpress/category-map", 401, 403, 403, "2xx", 403, 403),
    Row(
        "PUT",
        "/admin/aliexpress/category-map",
        401,
        403,
        403,
        "2xx",
        403,
        403,
        request=body(mappings=[]),
    ),
    Row("GET", "/admin/vendors", 401, 403, 403, "2xx", 403, 403),
    Row("GET", "/admin/vendors/performance", 401, 403, 403, "2xx", 403, 403),
    Row(
        "POST",
        "/admin/vendors/{vendor_id}/approve",
        401,
        403,
        403,
        "2xx",
        403,
        403,
        needs=("pending_store",),
        fresh=True,
    ),
    Row(
        "POST",
        "/admin/vendors/{vendor_id}/reject",
        401,
        403,
        403,
        "2xx",
        403,
        403,
        needs=("pending_store",),
        fresh=True,
        request=body(reason="matrix"),
    ),
    Row(
        "POST",
        "/admin/vendors/{vendor_id}/suspend",
        401,
        403,
        403,
        "2xx",
        403,
        403,
        needs=("approved_store",),
        fresh=True,
        request=body(reason="matrix"),
    ),
    Row("GET", "/admin/payouts", 401, 403, 403, "2xx", 403, 403),
    Row(
        "POST",
        "/admin/payouts/{payout_id}/retry",
        401,
        403,
        403,
        "2xx",
        403,
        403,
        needs=("failed_payout",),
    ),
    Row(
        "POST",
        "/admin/vendors/{vendor_id}/payout-account/approve",
        401,
        403,
        403,
        "2xx",
        403,
        403,
        needs=("payout_account_pending",),
    ),
    Row(
        "POST",
        "/admin/vendors/{vendor_id}/payout-account/reject",
        401,
        403,
        403,
        "2xx",
        403,
        403,
        needs=("payout_account_pending",),
        request=body(reason="matrix"),
    ),
    Row("GET", "/admin/payout-accounts", 401, 403, 403, "2xx", 403, 403),
    Row(
        "POST",
        "/admin/payouts/{payout_id}/finalize",
        401,
        403,
        403,
        "2xx",
        403,
        403,
        needs=("otp_payout",),
        request=body(otp=SANDBOX_OTP),
    ),
    Row(
        "POST",
        "/admin/payouts/{payout_id}/resend-otp",
        401,
        403,
        403,
        "2xx",
        403,
        403,
        needs=("otp_payout",),
    ),
    Row(
        "POST",
        "/admin/vendors/{vendor_id}/payout-hold",
        401,
        403,
        403,
        "2xx",
        403,
        403,
        needs=("approved_store",),
        request=body(reason="matrix"),
    ),
    Row(
        "POST",
        "/admin/vendors/{vendor_id}/plan",
        401,
        403,
        403,
        "2xx",
        403,
        403,
        needs=("approved_store",),
        fresh=True,
        request=body(plan="vendor_basic_monthly", reason="matrix"),
    ),
    Row(
        "POST",
        "/admin/vendors/{vendor_id}/payout-release",
        401,
        403,
        403,
        "2xx",
        403,
        403,
        needs=("approved_store",),
        request=body(reason="matrix"),
    ),
    Row("GET", "/categories", "2xx", "2xx", "2xx", "2xx", "2xx", "2xx"),
    Row(
        "GET",
        "/categories/{id_or_slug}",
        "2xx",
        "2xx",
        "2xx",
        "2xx",
        "2xx",
        "2xx",
        needs=("category",),
    ),
    Row("POST", "/categories", 401, 403, 403, "2xx", 403, 403, request=_category_body),
    Row(
        "PATCH",
        "/categories/{category_id}",
        401,
        403,
        403,
        "2xx",
        403,
        403,
        needs=("category",),
        request=body(name="renamed"),
    ),
    Row(
        "DELETE",
        "/categories/{category_id}",
        401,
        403,
        403,
        "2xx",
        403,
        403,
        needs=("category",),
        fresh=True,
    ),
    Row("GET", "/products", "2xx", "2xx", "2xx", "2xx", "2xx", "2xx"),
    Row("GET", "/search", "2xx", "2xx", "2xx", "2xx", "2xx", "2xx", request=_search_query),
    Row("GET", "/search/suggest", "2xx", "2xx", "2xx", "2xx", "2xx", "2xx", request=_search_query),
    Row(
        "POST", "/products", 401, "2xx", 403, 403, 403, 403, needs=("store",), request=_product_body
    ),
    Row("GET", "/products/{product_id}", 404, "2xx", 404, 404, 404, 404, needs=("product",)),
    Row(
        "GET", "/products/{product_id}/similar", 404, "2xx", 404, 404, 404, 404, needs=("product",)
    ),
    Row(
        "GET",
        "/products/{product_id}/bought-together",
        404,
        "2xx",
        404,
        404,
        404,
        404,
        needs=("product",),
    ),
    Row("GET", "/recommendations", "2xx", "2xx", "2xx", "2xx", "2xx", "2xx"),
    Row(
        "GET",
        "/products/{product_id}/price-history",
        404,
        "2xx",
        404,
        404,
        404,
        404,
        needs=("product",),
    ),
    Row(
        "PATCH",
        "/products/{product_id}",
        401,
        "2xx",
        404,
        403,
        403,
        403,
        needs=("rival", "product"),
        request=body(title="renamed"),
    ),
    Row(
        "DELETE",
        "/products/{product_id}",
        401,
        "2xx",
        404,
        403,
        403,
        403,
        needs=("rival", "product"),
    ),
    Row(
        "POST",
        "/products/{product_id}/variants",
        401,
        "2xx",
        404,
        403,
        403,
        403,
        needs=("rival", "product"),
        request=_variant_body,
    ),
    Row(
        "PATCH",
        "/products/{product_id}/variants/{variant_id}",
        401,
        "2xx",
        404,
        403,
        403,
        403,
        needs=("rival", "product"),
        request=body(price=200),
    ),
    # A product keeps its last variant: A's own call is refused on its merits.
    Row(
        "DELETE",
        "/products/{product_id}/variants/{variant_id}",
        401,
        409,
        404,
        403,
        403,
        403,
        needs=("rival", "product"),
    ),
    Row(
        "POST",
        "/products/{product_id}/variants/{variant_id}/stock",
        401,
        "2xx",
        404,
        403,
        403,
        403,
        needs=("rival", "product"),
        request=body(adjust=1),
    ),
    # Carts: every signed-in user has their own (API keys are refused: 403); another user's line
    # is 404. B sells the product (the ``rival`` need) A buys.
    Row("GET", "/cart", 401, "2xx", "2xx", "2xx", 403, 403),
    Row(
        "POST",
        "/cart/items",
        401,
        "2xx",
        "2xx",
        "2xx",
        403,
        403,
        needs=("rival",),
        request=_cart_item_body,
    ),
    Row(
        "PATCH",
        "/cart/items/{item_id}",
        401,
        "2xx",
        404,
        404,
        403,
        403,
        needs=("cart_line",),
        request=body(quantity=2),
    ),
    Row("DELETE", "/cart/items/{item_id}", 401, "2xx", 404, 404, 403, 403, needs=("cart_line",)),
    # Checkout turns the caller's own cart into orders: B's and the admin's are empty (409).
    Row(
        "POST",
        "/checkout",
        401,
        "2xx",
        409,
        409,
        403,
        403,
        needs=("cart_line",),
        request=_checkout_body,
    ),
    # A buyer's orders: A's order at B's store; B, its vendor, is not its buyer (404).
    Row("GET", "/orders", 401, "2xx", "2xx", "2xx", 403, 403),
    Row("GET", "/orders/{order_id}", 401, "2xx", 404, 404, 403, 403, needs=("purchase_pending",)),
    Row(
        "GET",
        "/order-groups/{group_id}",
        401,
        "2xx",
        404,
        404,
        403,
        403,
        needs=("purchase_pending",),
    ),
    # Paying again: A's unpaid group (no failed attempt on record, so a first one is opened).
    Row(
        "POST",
        "/order-groups/{group_id}/pay",
        401,
        "2xx",
        404,
        404,
        403,
        403,
        needs=("purchase_pending",),
    ),
    Row(
        "POST",
        "/orders/{order_id}/cancel",
        401,
        "2xx",
        404,
        404,
        403,
        403,
        needs=("purchase_pending",),
    ),
    Row(
        "POST",
        "/orders/{order_id}/returns",
        401,
        "2xx",
        404,
        404,
        403,
        403,
        needs=("purchase_delivered",),
        request=_return_body,
    ),
    # A store's orders and returns: B's order at A's store. B is a vendor too (its own store):
    # B's lists are its own, and A's order or return answers B 404 — B bought it, B cannot run it.
    Row("GET", "/vendors/me/orders", 401, "2xx", "2xx", 403, 403, 403, needs=("store", "rival")),
    Row(
        "GET",
        "/vendors/me/orders/{order_id}",
        401,
        "2xx",
        404,
        403,
        403,
        403,
        needs=("sale_pending",),
    ),
    Row(
        "POST",
        "/vendors/me/orders/{order_id}/confirm",
        401,
        "2xx",
        404,
        403,
        403,
        403,
        needs=("sale_pending",),
    ),
    Row(
        "POST",
        "/vendors/me/orders/{order_id}/ship",
        401,
        "2xx",
        404,
        403,
        403,
        403,
        needs=("sale_confirmed",),
        request=body(carrier="GIG", tracking_number="T-1"),
    ),
    Row(
        "POST",
        "/vendors/me/orders/{order_id}/deliver",
        401,
        "2xx",
        404,
        403,
        403,
        403,
        needs=("sale_shipped",),
    ),
    Row(
        "POST",
        "/vendors/me/orders/{order_id}/cancel",
        401,
        "2xx",
        404,
        403,
        403,
        403,
        needs=("sale_confirmed",),
        request=body(reason="sold out"),
    ),
    Row("GET", "/vendors/me/returns", 401, "2xx", "2xx", 403, 403, 403, needs=("store", "rival")),
    Row(
        "POST",
        "/vendors/me/returns/{return_id}/approve",
        401,
        "2xx",
        404,
        403,
        403,
        403,
        needs=("return_requested",),
    ),
    Row(
        "POST",
        "/vendors/me/returns/{return_id}/reject",
        401,
        "2xx",
        404,
        403,
        403,
        403,
        needs=("return_requested",),
    ),
    Row(
        "POST",
        "/vendors/me/returns/{return_id}/receive",
        401,
        "2xx",
        404,
        403,
        403,
        403,
        needs=("return_approved",),
    ),
    # Imports: each vendor imports into its own store; A's import answers B 404.
    Row(
        "POST",
        "/vendors/me/imports",
        401,
        "2xx",
        "2xx",
        403,
        403,
        403,
        needs=("store", "rival"),
        request=_import_body,
    ),
    Row("GET", "/vendors/me/imports", 401, "2xx", "2xx", 403, 403, 403, needs=("store", "rival")),
    Row(
        "GET",
        "/vendors/me/imports/{import_id}",
        401,
        "2xx",
        404,
        403,
        403,
        403,
        needs=("import",),
    ),
    Row(
        "GET",
        "/vendors/me/imports/{import_id}/failures",
        401,
        "2xx",
        404,
        403,
        403,
        403,
        needs=("import",),
    ),
    # Product images: A's product, B another vendor (404).
    Row(
        "POST",
        "/products/{product_id}/images",
        401,
        "2xx",
        404,
        403,
        403,
        403,
        needs=("rival", "product"),
        request=_image_body,
    ),
    Row(
        "PATCH",
        "/products/{product_id}/images/{image_id}",
        401,
        "2xx",
        404,
        403,
        403,
        403,
        needs=("image",),
        request=body(alt_text="Front"),
    ),
    Row(
        "DELETE",
        "/products/{product_id}/images/{image_id}",
        401,
        "2xx",
        404,
        403,
        403,
        403,
        needs=("image",),
    ),
    # Reviews: only a buyer who received the product (or an order of the store) reviews it — B,
    # the vendor, and the admin are not (403); a review is its author's to edit (404 to others);
    # anyone signed in votes and flags once; the reviewed store answers; admins moderate.
    Row(
        "POST",
        "/products/{product_id}/reviews",
        401,
        "2xx",
        403,
        403,
        403,
        403,
        needs=("purchase_delivered",),
        request=_review_body,
    ),
    Row(
        "POST",
        "/vendors/{vendor_id}/reviews",
        401,
        "2xx",
        403,
        403,
        403,
        403,
        needs=("purchase_delivered",),
        request=_review_body,
    ),
    Row(
        "GET",
        "/products/{product_id}/reviews",
        "2xx",
        "2xx",
        "2xx",
        "2xx",
        "2xx",
        "2xx",
        needs=("my_review",),
    ),
    Row(
        "GET",
        "/products/{product_id}/rating",
        "2xx",
        "2xx",
        "2xx",
        "2xx",
        "2xx",
        "2xx",
        needs=("my_review",),
    ),
    Row(
        "GET",
        "/vendors/{vendor_id}/reviews",
        "2xx",
        "2xx",
        "2xx",
        "2xx",
        "2xx",
        "2xx",
        needs=("my_review",),
    ),
    Row(
        "PATCH",
        "/reviews/{review_id}",
        401,
        "2xx",
        404,
        404,
        403,
        403,
        needs=("my_review",),
        request=body(title="Edited"),
    ),
    Row("DELETE", "/reviews/{review_id}", 401, "2xx", 404, 404, 403, 403, needs=("my_review",)),
    Row(
        "POST",
        "/reviews/{review_id}/helpful",
        401,
        "2xx",
        "2xx",
        "2xx",
        403,
        403,
        needs=("my_review",),
    ),
    Row(
        "POST",
        "/reviews/{review_id}/flag",
        401,
        "2xx",
        "2xx",
        "2xx",
        403,
        403,
        needs=("my_review",),
        request=body(reason="matrix"),
    ),
    Row(
        "POST",
        "/reviews/{review_id}/reply",
        401,
        "2xx",
        404,
        403,
        403,
        403,
        needs=("store_review",),
        request=body(body="Thank you!"),
    ),
    Row("GET", "/admin/reviews", 401, 403, 403, "2xx", 403, 403, request=_moderation_queue),
    Row(
        "POST",
        "/admin/reviews/{review_id}/publish",
        401,
        403,
        403,
        "2xx",
        403,
        403,
        needs=("my_review",),
        request=body(reason="matrix"),
    ),
    Row(
        "POST",
        "/admin/reviews/{review_id}/hide",
        401,
        403,
        403,
        "2xx",
        403,
        403,
        needs=("my_review",),
        request=body(reason="matrix"),
    ),
    Row("GET", "/admin/marketplace/revenue", 401, 403, 403, "2xx", 403, 403),
    # Disputes are the admin's: listing, and evidence sent to the provider (a closed one: 409).
    Row("GET", "/admin/disputes", 401, 403, 403, "2xx", 403, 403),
    Row(
        "POST",
        "/admin/disputes/{dispute_id}/evidence",
        401,
        403,
        403,
        409,
        403,
        403,
        needs=("closed_dispute",),
        request=body(
            customer_email="ada@example.com",
            customer_name="Ada Obi",
            customer_phone="+2348012345678",
            service_details="matrix",
        ),
    ),
    # Flutterwave: as Paystack — a user spends (a key cannot), the webhook needs a signature.
    Row(
        "POST",
        "/payments/flutterwave/initiate",
        401,
        "2xx",
        "2xx",
        "2xx",
        403,
        403,
        request=_money_body,
    ),
    Row(
        "POST",
        "/payments/flutterwave/webhook",
        400,
        400,
        400,
        400,
        400,
        400,
        request=body(event="x"),
    ),
    # Realtime: a ticket for the caller's own socket; an order's SSE only for whom the order
    # authorizer allows (none is registered here: 404 for every user).
    Row("POST", "/ws/ticket", 401, "2xx", "2xx", "2xx", 403, 403),
    Row(
        "GET", "/orders/{order_id}/events", 401, 404, 404, 404, 403, 403, needs=("unwatched_order",)
    ),
    # Notifications: a user's own inbox and preferences (API keys are refused: 403), the admins'
    # templates, and the providers' callbacks, which every caller fails to sign (403).
    Row("GET", "/notifications", 401, "2xx", "2xx", "2xx", 403, 403),
    Row("GET", "/transactions", 401, "2xx", "2xx", "2xx", 403, 403),
    Row("GET", "/notifications/unread-count", 401, "2xx", "2xx", "2xx", 403, 403),
    Row("POST", "/notifications/read-all", 401, "2xx", "2xx", "2xx", 403, 403),
    Row("GET", "/notifications/preferences", 401, "2xx", "2xx", "2xx", 403, 403),
    Row(
        "PUT",
        "/notifications/preferences",
        401,
        "2xx",
        "2xx",
        "2xx",
        403,
        403,
        request=body(preferences=[{"category": "orders", "channel": "email", "enabled": False}]),
    ),
    Row(
        "POST",
        "/notifications/{notification_id}/read",
        401,
        404,
        404,
        404,
        403,
        403,
        needs=("notification",),
    ),
    # Public: a signed token in the query is the only credential; without a genuine one, 4xx.
    Row("POST", "/notifications/unsubscribe", "4xx", "4xx", "4xx", "4xx", "4xx", "4xx"),
    Row("POST", "/notifications/callbacks/twilio", 403, 403, 403, 403, 403, 403),
    Row("POST", "/notifications/callbacks/sendgrid", 403, 403, 403, 403, 403, 403),
    Row("GET", "/admin/notification-templates", 401, 403, 403, "2xx", 403, 403),
    Row(
        "GET",
        "/admin/notification-templates/{event}/{channel}",
        401,
        403,
        403,
        "2xx",
        403,
        403,
        needs=("notification_template",),
    ),
    Row(
        "PUT",
        "/admin/notification-templates/{event}/{channel}",
        401,
        403,
        403,
        "2xx",
        403,
        403,
        needs=("notification_template",),
        request=body(subject="Shipped {{ order_number }}", body="On its way."),
    ),
)

ROUTES: dict[tuple[str, str], Row] = {(row.method, row.path): row for row in ROWS}
