"""A Paystack fake shaped after https://paystack.com/docs/api/ (transactions, refunds, webhooks).

API routes (``Authorization: Bearer <secret>`` or 401 ``{"status": false, "message": "Invalid key"}``):
``POST /transaction/initialize``, ``GET /transaction/verify/{reference}``, ``POST /refund``,
``GET /refund?transaction=`` and ``GET /refund/{id}``. Every
answer is ``{"status", "message", "data"}``. The checkout page ``/checkout/{access_code}`` has "pay"
and "fail" buttons; each settles the transaction and sends a signed webhook (``charge.success`` /
``charge.failed``, HMAC-SHA512 of the body under the secret key in ``x-paystack-signature``) to
``webhook_url`` when one is set. Like Paystack, an initialised transaction nobody paid verifies as
``abandoned``.

Knobs for negative tests: :meth:`PaystackFake.refuse_next_initialize`,
:meth:`PaystackFake.misreport_next_verify`, :meth:`PaystackFake.fail_next`.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import itertools
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from oja.sandbox.base import SecretKeyApi, fake_app

DEFAULT_SECRET_KEY = "sk_test_oja_sandbox_paystack"  # noqa: S105 (a fake's public test value)
SUPPORTED_CURRENCIES = frozenset({"NGN", "GHS", "ZAR", "KES", "USD"})


def sign(secret_key: str, body: bytes) -> str:
    return hmac.new(secret_key.encode(), body, hashlib.sha512).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Transaction:
    id: int
    reference: str
    access_code: str
    amount: int
    currency: str
    email: str
    metadata: dict[str, Any]
    callback_url: str | None
    status: str = "abandoned"
    gateway_response: str = "The transaction was not completed"
    paid_at: str | None = None
    created_at: str = field(default_factory=_now)
    refunded: int = 0


@dataclass
class RefundRecord:
    id: int
    transaction: Transaction
    amount: int
    status: str = "pending"
    created_at: str = field(default_factory=_now)
    merchant_note: str | None = None


class PaystackFake(SecretKeyApi):
    def __init__(
        self, *, secret_key: str = DEFAULT_SECRET_KEY, webhook_url: str | None = None
    ) -> None:
        super().__init__(secret_key)
        self.webhook_url = webhook_url
        self.transactions: dict[str, Transaction] = {}
        self.refunds: list[RefundRecord] = []
        self.deliveries: list[tuple[str, int | None]] = []
        """``(event, webhook answer status)`` for every webhook sent (None: unreachable)."""
        self._ids = itertools.count(4_099_260_516)
        self._refuse_initialize: str | None = None
        self._misreport: list[int] = []
        self.app = self._build_app()

    # Knobs

    def refuse_next_initialize(self, message: str = "Invalid Amount Sent") -> None:
        """The next initialize answers 400 ``{"status": false, "message": message}``."""
        self._refuse_initialize = message

    def misreport_next_verify(self, amount: int, times: int = 1) -> None:
        """The next ``times`` verifications report ``amount`` instead of the real one."""
        self._misreport.extend([amount] * times)

    # Test helpers

    def finish_refund(self, refund_id: int, status: str = "processed") -> bytes:
        """Settle a refund (``processed`` or ``failed``, which gives the amount back to the
        transaction); the body of the ``refund.<status>`` webhook Paystack would send."""
        with self._lock:
            record = next(r for r in self.refunds if r.id == refund_id)
            if record.status != status and status == "failed":
                record.transaction.refunded -= record.amount
            record.status = status
            data = self._refund(record)
        return json.dumps({"event": f"refund.{status}", "data": data}).encode()

    def _refund(self, record: RefundRecord) -> dict[str, Any]:
        return {
            "id": record.id,
            "status": record.status,
            "amount": record.amount,
            "currency": record.transaction.currency,
            "transaction_reference": record.transaction.reference,
            "refund_reference": f"RF_{record.id}",
            "merchant_note": record.merchant_note,
            "createdAt": record.created_at,
            "domain": "test",
        }

    def webhook_body(self, event: str, transaction: Transaction) -> bytes:
        return json.dumps({"event": event, "data": self._charge(transaction)}).encode()

    def settle(self, reference: str, outcome: str) -> Transaction:
        """Mark a transaction paid (``success``) or declined (``failed``) without a browser."""
        with self._lock:
            tx = self.transactions[reference]
            if outcome == "success" and tx.status != "success":
                tx.status, tx.gateway_response, tx.paid_at = "success", "Successful", _now()
            elif outcome == "failed" and tx.status != "success":
                tx.status, tx.gateway_response = "failed", "Declined"
            return tx

    async def deliver(self, event: str, transaction: Transaction) -> int | None:
        body = self.webhook_body(event, transaction)
        status: int | None = None
        if self.webhook_url:
            try:
                async with httpx.AsyncClient(timeout=30) as client:
                    answer = await client.post(
                        self.webhook_url,
                        content=body,
                        headers={
                            "content-type": "application/json",
                            "x-paystack-signature": sign(self.secret_key, body),
                        },
                    )
                status = answer.status_code
            except httpx.HTTPError:
                status = None
        self.deliveries.append((event, status))
        return status

    # Wire format

    def _charge(self, tx: Transaction) -> dict[str, Any]:
        return {
            "id": tx.id,
            "domain": "test",
            "status": tx.status,
            "reference": tx.reference,
            "amount": tx.amount,
            "requested_amount": tx.amount,
            "message": None,
            "gateway_response": tx.gateway_response,
            "paid_at": tx.paid_at,
            "paidAt": tx.paid_at,
            "created_at": tx.created_at,
            "createdAt": tx.created_at,
            "channel": "card",
            "currency": tx.currency,
            "ip_address": "127.0.0.1",
            "metadata": tx.metadata,
            "fees": tx.amount * 15 // 1000 if tx.status == "success" else None,
            "customer": {"id": 1, "email": tx.email, "customer_code": "CUS_sandbox"},
            "authorization": {"authorization_code": "AUTH_sandbox", "last4": "4081"}
            if tx.status == "success"
            else {},
        }

    def _build_app(self) -> FastAPI:
        app = fake_app("Paystack")
        fake = self

        def refuse(status: int, message: str) -> JSONResponse:
            return JSONResponse({"status": False, "message": message}, status_code=status)

        def gate(request: Request, name: str) -> JSONResponse | None:
            match fake._admit(request, name):
                case 401:
                    return refuse(401, "Invalid key")
                case 500:
                    return refuse(500, "An error occurred")
            return None

        @app.post("/transaction/initialize")
        async def initialize(request: Request) -> Response:
            if (denied := gate(request, "initialize")) is not None:
                return denied
            try:
                body = await request.json()
            except ValueError:
                return refuse(400, "Invalid JSON body")
            if fake._refuse_initialize is not None:
                message, fake._refuse_initialize = fake._refuse_initialize, None
                return refuse(400, message)
            amount, email = body.get("amount"), body.get("email")
            if not isinstance(email, str) or "@" not in email:
                return refuse(400, "Invalid Email Address Passed")
            if isinstance(amount, str) and amount.isdigit():
                amount = int(amount)
            if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
                return refuse(400, "Invalid Amount Sent")
            currency = str(body.get("currency") or "NGN")
            if currency not in SUPPORTED_CURRENCIES:
                return refuse(400, "Currency not supported by merchant")
            reference = str(body.get("reference") or secrets.token_hex(8))
            with fake._lock:
                if reference in fake.transactions:
                    return refuse(400, "Duplicate Transaction Reference")
                tx = Transaction(
                    id=next(fake._ids),
                    reference=reference,
                    access_code=secrets.token_hex(8),
                    amount=amount,
                    currency=currency,
                    email=email,
                    metadata=body.get("metadata") or {},
                    callback_url=body.get("callback_url"),
                )
                fake.transactions[reference] = tx
            base = str(request.base_url).rstrip("/")
            return JSONResponse(
                {
                    "status": True,
                    "message": "Authorization URL created",
                    "data": {
                        "authorization_url": f"{base}/checkout/{tx.access_code}",
                        "access_code": tx.access_code,
                        "reference": tx.reference,
                    },
                }
            )

        @app.get("/transaction/verify/{reference}")
        async def verify(reference: str, request: Request) -> Response:
            if (denied := gate(request, "verify")) is not None:
                return denied
            tx = fake.transactions.get(reference)
            if tx is None:
                return refuse(404, "Transaction reference not found")
            data = fake._charge(tx)
            if fake._misreport:
                data["amount"] = fake._misreport.pop(0)
            return JSONResponse(
                {"status": True, "message": "Verification successful", "data": data}
            )

        @app.post("/refund")
        async def refund(request: Request) -> Response:
            if (denied := gate(request, "refund")) is not None:
                return denied
            body = await request.json()
            key = str(body.get("transaction") or "")
            with fake._lock:
                tx = fake.transactions.get(key) or next(
                    (t for t in fake.transactions.values() if str(t.id) == key), None
                )
                if tx is None:
                    return refuse(404, "Transaction not found")
                if tx.status != "success":
                    return refuse(400, "Cannot refund a transaction that was not successful")
                amount = body.get("amount", tx.amount - tx.refunded)
                if not isinstance(amount, int) or amount <= 0:
                    return refuse(400, "Invalid refund amount")
                if amount > tx.amount - tx.refunded:
                    return refuse(400, "Refund amount cannot be more than the transaction amount")
                tx.refunded += amount
                note = body.get("merchant_note")
                record = RefundRecord(
                    id=next(fake._ids),
                    transaction=tx,
                    amount=amount,
                    merchant_note=note if isinstance(note, str) else None,
                )
                fake.refunds.append(record)
            return JSONResponse(
                {
                    "status": True,
                    "message": "Refund has been queued for processing",
                    "data": {
                        "transaction": fake._charge(tx),
                        "integration": 1,
                        "deducted_amount": amount,
                        "channel": None,
                        "merchant_note": body.get("merchant_note"),
                        "customer_note": body.get("customer_note"),
                        "status": record.status,
                        "refunded_by": "sandbox@oja.test",
                        "expected_at": _now(),
                        "currency": tx.currency,
                        "domain": "test",
                        "amount": amount,
                        "fully_deducted": True,
                        "id": record.id,
                        "createdAt": record.created_at,
                    },
                }
            )

        @app.get("/refund")
        async def list_refunds(request: Request) -> Response:
            if (denied := gate(request, "list_refunds")) is not None:
                return denied
            key = request.query_params.get("transaction")
            with fake._lock:
                found = [
                    fake._refund(r)
                    for r in fake.refunds
                    if key is None or key in (r.transaction.reference, str(r.transaction.id))
                ]
            return JSONResponse(
                {"status": True, "message": "Refunds retrieved", "data": found, "meta": {}}
            )

        @app.get("/refund/{refund_id}")
        async def fetch_refund(refund_id: str, request: Request) -> Response:
            if (denied := gate(request, "fetch_refund")) is not None:
                return denied
            with fake._lock:
                record = next((r for r in fake.refunds if str(r.id) == refund_id), None)
                if record is None:
                    return refuse(404, "Refund not found")
                data = fake._refund(record)
            return JSONResponse({"status": True, "message": "Refund retrieved", "data": data})

        def by_code(access_code: str) -> Transaction | None:
            return next(
                (t for t in fake.transactions.values() if t.access_code == access_code), None
            )

        @app.get("/checkout/{access_code}", response_class=HTMLResponse)
        async def checkout(access_code: str) -> Response:
            tx = by_code(access_code)
            if tx is None:
                return HTMLResponse("<h1>Unknown checkout</h1>", status_code=404)
            amount = f"{tx.currency} {tx.amount / 100:,.2f}"
            return HTMLResponse(
                "<!doctype html><html><body><h1>Sandbox Paystack checkout</h1>"
                f"<p>{html.escape(tx.email)} pays {html.escape(amount)} "
                f"(reference {html.escape(tx.reference)}).</p>"
                f"<form method='post' action='/checkout/{access_code}/pay'><button>Pay</button></form>"
                f"<form method='post' action='/checkout/{access_code}/fail'><button>Fail</button></form>"
                "</body></html>"
            )

        async def settle_and_notify(access_code: str, outcome: str, request: Request) -> Response:
            tx = by_code(access_code)
            if tx is None:
                return refuse(404, "Unknown checkout")
            tx = fake.settle(tx.reference, outcome)
            event = "charge.success" if outcome == "success" else "charge.failed"
            delivered = await fake.deliver(event, tx)
            if "application/json" in request.headers.get("accept", ""):
                return JSONResponse(
                    {"reference": tx.reference, "status": tx.status, "webhook_status": delivered}
                )
            return HTMLResponse(
                f"<p>Payment {html.escape(tx.status)}. Webhook answered {delivered}.</p>"
                + (f"<a href='{html.escape(tx.callback_url)}'>Back</a>" if tx.callback_url else "")
            )

        @app.post("/checkout/{access_code}/pay")
        async def pay(access_code: str, request: Request) -> Response:
            return await settle_and_notify(access_code, "success", request)

        @app.post("/checkout/{access_code}/fail")
        async def fail(access_code: str, request: Request) -> Response:
            return await settle_and_notify(access_code, "failed", request)

        return app
