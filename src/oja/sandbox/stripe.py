"""A Stripe fake shaped after https://docs.stripe.com/api: customers, Checkout, subscriptions, portal.

Requests are form-encoded with bracketed keys (``line_items[0][price]=…``), as the official SDK sends
them; answers are Stripe objects, errors ``{"error": {"type", "message", "code"}}``. ``Idempotency-Key``
replays the first answer. ``/checkout/{session_id}`` is a page whose "complete" button creates the
subscription and sends ``checkout.session.completed``, ``customer.subscription.created`` and
``invoice.paid`` to ``webhook_url``, each signed as Stripe documents: ``Stripe-Signature:
t=<unix>,v1=<hex HMAC-SHA256(secret, f"{t}.{payload}")>``. Every event is also kept in
:attr:`StripeFake.events` so tests can re-deliver, duplicate or reorder them.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from oja.core.http import tls_context
from oja.sandbox.base import SecretKeyApi, fake_app

DEFAULT_SECRET_KEY = "sk_test_oja_sandbox_stripe"  # noqa: S105 (a fake's public test value)
DEFAULT_WEBHOOK_SECRET = "whsec_oja_sandbox"  # noqa: S105
DEFAULT_PRICE_ID = "price_oja_pro_monthly"
PERIOD_SECONDS = 30 * 24 * 3600


def signature_header(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    signed = f"{t}.".encode() + payload
    return f"t={t},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"


def parse_form(body: bytes) -> dict[str, Any]:
    """Stripe's bracketed form encoding to nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode(), keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    result: dict[str, Any] = _lists(root)
    return result


def _lists(node: Any) -> Any:
    """Dicts keyed ``0, 1, …`` become lists, recursively."""
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


class StripeError(Exception):
    def __init__(self, status: int, type_: str, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.type, self.message, self.code = status, type_, message, code


class StripeFake(SecretKeyApi):
    def __init__(
        self,
        *,
        secret_key: str = DEFAULT_SECRET_KEY,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        webhook_url: str | None = None,
        prices: tuple[str, ...] = (DEFAULT_PRICE_ID,),
    ) -> None:
        super().__init__(secret_key)
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.prices = set(prices)
        self.customers: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.deliveries: list[tuple[str, int | None]] = []
        self._idempotent: dict[str, tuple[int, dict[str, Any]]] = {}
        self.app = self._build_app()

    # Knobs and helpers

    def event(self, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Record an event about ``obj`` (a snapshot, as Stripe sends) and return it."""
        event = {
            "id": _id("evt"),
            "object": "event",
            "api_version": "2025-03-31.basil",
            "created": int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "type": event_type,
            "data": {"object": json.loads(json.dumps(obj))},
        }
        self.events.append(event)
        return event

    def signed(self, event: dict[str, Any], timestamp: int | None = None) -> tuple[bytes, str]:
        payload = json.dumps(event).encode()
        return payload, signature_header(payload, self.webhook_secret, timestamp)

    async def deliver(self, event: dict[str, Any]) -> int | None:
        status: int | None = None
        if self.webhook_url:
            payload, header = self.signed(event)
            try:
                async with httpx.AsyncClient(timeout=30, verify=tls_context()) as client:
                    answer = await client.post(
                        self.webhook_url,
                        content=payload,
                        headers={"content-type": "application/json", "stripe-signature": header},
                    )
                status = answer.status_code
            except httpx.HTTPError:
                status = None
        self.deliveries.append((event["type"], status))
        return status

    def set_subscription(self, subscription_id: str, **changes: Any) -> dict[str, Any]:
        """Change a subscription as Stripe would on its own (renewal, dunning…); no event is sent."""
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            subscription.update(changes)
            return subscription

    def complete_checkout(self, session_id: str) -> list[dict[str, Any]]:
        """Pay a Checkout Session: create its subscription; return the events to send, in order."""
        with self._lock:
            session = self.sessions[session_id]
            if session["status"] == "complete":
                return []
            now = int(time.time())
            price = session["_price"]
            subscription_id = _id("sub")
            item = {
                "id": _id("si"),
                "object": "subscription_item",
                "price": {"id": price, "object": "price", "recurring": {"interval": "month"}},
                "quantity": 1,
                "current_period_start": now,
                "current_period_end": now + PERIOD_SECONDS,
            }
            subscription = {
                "id": subscription_id,
                "object": "subscription",
                "customer": session["customer"],
                "status": "active",
                "cancel_at_period_end": False,
                "canceled_at": None,
                "created": now,
                "start_date": now,
                "metadata": session.get("_subscription_metadata") or {},
                "items": {"object": "list", "data": [item]},
                "latest_invoice": _id("in"),
            }
            self.subscriptions[subscription_id] = subscription
            session.update(status="complete", payment_status="paid", subscription=subscription_id)
            invoice = {
                "id": subscription["latest_invoice"],
                "object": "invoice",
                "customer": session["customer"],
                "status": "paid",
                "amount_paid": 2000,
                "currency": "usd",
                "parent": {
                    "type": "subscription_details",
                    "subscription_details": {"subscription": subscription_id},
                },
            }
            public_session = {k: v for k, v in session.items() if not k.startswith("_")}
        return [
            self.event("checkout.session.completed", public_session),
            self.event("customer.subscription.created", subscription),
            self.event("invoice.paid", invoice),
        ]

    # The app

    def _build_app(self) -> FastAPI:
        app = fake_app("Stripe")
        fake = self

        @app.exception_handler(StripeError)
        async def stripe_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, StripeError)
            error: dict[str, Any] = {"type": exc.type, "message": exc.message}
            if exc.code:
                error["code"] = exc.code
            return JSONResponse({"error": error}, status_code=exc.status)

        async def gate(request: Request, name: str) -> dict[str, Any]:
            match fake._admit(request, name):
                case 401:
                    shown = request.headers.get("authorization", "").removeprefix("Bearer ")[:12]
                    raise StripeError(
                        401,
                        "invalid_request_error",
                        f"Invalid API Key provided: {shown}***",
                        "api_key_invalid",
                    )
                case 500:
                    raise StripeError(500, "api_error", "An unknown error occurred")
            body = await request.body()
            return parse_form(body) if body else {}

        def missing(kind: str, object_id: str) -> StripeError:
            return StripeError(
                404, "invalid_request_error", f"No such {kind}: '{object_id}'", "resource_missing"
            )

        def idempotent(request: Request, make: Any) -> Response:
            key = request.headers.get("idempotency-key")
            if key and key in fake._idempotent:
                status, body = fake._idempotent[key]
                return JSONResponse(
                    body, status_code=status, headers={"Idempotent-Replayed": "true"}
                )
            body = make()
            if key:
                fake._idempotent[key] = (200, body)
            return JSONResponse(body)

        @app.post("/v1/customers")
        async def create_customer(request: Request) -> Response:
            params = await gate(request, "customers.create")

            def make() -> dict[str, Any]:
                customer_id = _id("cus")
                customer: dict[str, Any] = {
                    "id": customer_id,
                    "object": "customer",
                    "email": params.get("email"),
                    "metadata": params.get("metadata") or {},
                    "created": int(time.time()),
                    "livemode": False,
                }
                fake.customers[customer_id] = customer
                return customer

            return idempotent(request, make)

        @app.get("/v1/customers/{customer_id}")
        async def get_customer(customer_id: str, request: Request) -> Response:
            await gate(request, "customers.retrieve")
            if customer_id not in fake.customers:
                raise missing("customer", customer_id)
            return JSONResponse(fake.customers[customer_id])

        @app.post("/v1/checkout/sessions")
        async def create_session(request: Request) -> Response:
            params = await gate(request, "checkout.sessions.create")
            if params.get("mode") != "subscription":
                raise StripeError(
                    400,
                    "invalid_request_error",
                    "The sandbox supports mode=subscription only.",
                    "parameter_invalid_empty",
                )
            items = params.get("line_items") or []
            price = items[0].get("price") if items and isinstance(items[0], dict) else None
            if price not in fake.prices:
                raise missing("price", str(price))
            customer = params.get("customer")
            if customer and customer not in fake.customers:
                raise missing("customer", str(customer))
            if not params.get("success_url"):
                raise StripeError(
                    400,
                    "invalid_request_error",
                    "Missing required param: success_url.",
                    "parameter_missing",
                )
            base = str(request.base_url).rstrip("/")

            def make() -> dict[str, Any]:
                session_id = f"cs_test_{secrets.token_hex(16)}"
                session = {
                    "id": session_id,
                    "object": "checkout.session",
                    "mode": "subscription",
                    "status": "open",
                    "payment_status": "unpaid",
                    "customer": customer,
                    "client_reference_id": params.get("client_reference_id"),
                    "metadata": params.get("metadata") or {},
                    "subscription": None,
                    "success_url": params.get("success_url"),
                    "cancel_url": params.get("cancel_url"),
                    "url": f"{base}/checkout/{session_id}",
                    "_price": price,
                    "_subscription_metadata": (params.get("subscription_data") or {}).get(
                        "metadata"
                    ),
                }
                fake.sessions[session_id] = session
                return {k: v for k, v in session.items() if not k.startswith("_")}

            return idempotent(request, make)

        @app.get("/v1/subscriptions/{subscription_id}")
        async def get_subscription(subscription_id: str, request: Request) -> Response:
            await gate(request, "subscriptions.retrieve")
            if subscription_id not in fake.subscriptions:
                raise missing("subscription", subscription_id)
            return JSONResponse(fake.subscriptions[subscription_id])

        @app.post("/v1/subscriptions/{subscription_id}")
        async def update_subscription(subscription_id: str, request: Request) -> Response:
            params = await gate(request, "subscriptions.update")
            if subscription_id not in fake.subscriptions:
                raise missing("subscription", subscription_id)
            changes: dict[str, Any] = {}
            if "cancel_at_period_end" in params:
                changes["cancel_at_period_end"] = params["cancel_at_period_end"] == "true"
            subscription = fake.set_subscription(subscription_id, **changes)
            await fake.deliver(fake.event("customer.subscription.updated", subscription))
            return JSONResponse(subscription)

        @app.delete("/v1/subscriptions/{subscription_id}")
        async def cancel_subscription(subscription_id: str, request: Request) -> Response:
            await gate(request, "subscriptions.cancel")
            if subscription_id not in fake.subscriptions:
                raise missing("subscription", subscription_id)
            subscription = fake.set_subscription(
                subscription_id, status="canceled", canceled_at=int(time.time())
            )
            await fake.deliver(fake.event("customer.subscription.deleted", subscription))
            return JSONResponse(subscription)

        @app.post("/v1/billing_portal/sessions")
        async def portal(request: Request) -> Response:
            params = await gate(request, "billing_portal.sessions.create")
            customer = params.get("customer")
            if customer not in fake.customers:
                raise missing("customer", str(customer))
            portal_id = _id("bps")
            base = str(request.base_url).rstrip("/")
            return JSONResponse(
                {
                    "id": portal_id,
                    "object": "billing_portal.session",
                    "customer": customer,
                    "return_url": params.get("return_url"),
                    "url": f"{base}/portal/{portal_id}",
                    "livemode": False,
                }
            )

        @app.get("/checkout/{session_id}", response_class=HTMLResponse)
        async def checkout_page(session_id: str) -> Response:
            session = fake.sessions.get(session_id)
            if session is None:
                return HTMLResponse("<h1>Unknown session</h1>", status_code=404)
            return HTMLResponse(
                "<!doctype html><html><body><h1>Sandbox Stripe Checkout</h1>"
                f"<p>Subscribe to {html.escape(session['_price'])}.</p>"
                f"<form method='post' action='/checkout/{session_id}/complete'>"
                "<button>Complete</button></form></body></html>"
            )

        @app.post("/checkout/{session_id}/complete")
        async def complete(session_id: str, request: Request) -> Response:
            if session_id not in fake.sessions:
                return HTMLResponse("<h1>Unknown session</h1>", status_code=404)
            statuses = [await fake.deliver(e) for e in fake.complete_checkout(session_id)]
            session = fake.sessions[session_id]
            if "application/json" in request.headers.get("accept", ""):
                return JSONResponse(
                    {"subscription": session["subscription"], "webhook_statuses": statuses}
                )
            return HTMLResponse(f"<p>Subscribed. Webhooks answered {statuses}.</p>")

        @app.get("/portal/{portal_id}", response_class=HTMLResponse)
        async def portal_page(portal_id: str) -> Response:
            return HTMLResponse("<h1>Sandbox billing portal</h1>")

        return app
