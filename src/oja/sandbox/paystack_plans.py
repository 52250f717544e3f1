"""The Paystack fake's Plans and Subscriptions (https://paystack.com/docs/api/plan/,
https://paystack.com/docs/api/subscription/, https://paystack.com/docs/payments/subscriptions/).

Routes: ``POST/GET /plan``, ``GET /plan/{id_or_code}``, ``POST /subscription`` (``customer`` email
or code, ``plan``, optional ``authorization`` and ``start_date``), ``GET /subscription/{code}``,
``POST /subscription/disable`` and ``/subscription/enable`` (``code`` + ``token``, the
subscription's ``email_token``), and ``POST /transaction/initialize`` with a ``plan``: the plan's
amount is charged (the body's is ignored) and paying it creates the subscription.

Webhooks, as Paystack sends them: ``charge.success`` carrying ``plan``, then ``subscription.create``;
a renewal is ``invoice.create``, ``charge.success`` and ``invoice.update`` (:meth:`renew`); a failed
renewal is ``invoice.create`` then ``invoice.payment_failed`` with the subscription in
``attention``; ``subscription.disable`` on disable, ``subscription.not_renew`` when the customer
cancels from the manage link (:meth:`not_renew`). Statuses: ``active``, ``non-renewing``,
``attention``, ``cancelled``, ``completed``.

A period is the plan's interval added to the start: ``monthly`` 30 days, ``annually`` 365 days
(Paystack bills on the same day of the month; the fake keeps fixed lengths so tests can compute).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from oja.sandbox.base import json_object
from oja.sandbox.paystack_records import SUPPORTED_CURRENCIES, Transaction, timestamp

if TYPE_CHECKING:
    from oja.sandbox.paystack import PaystackFake

INTERVALS: dict[str, timedelta] = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(days=7),
    "monthly": timedelta(days=30),
    "quarterly": timedelta(days=91),
    "biannually": timedelta(days=182),
    "annually": timedelta(days=365),
}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def customer_code(email: str) -> str:
    return "CUS_" + hashlib.sha256(email.lower().encode()).hexdigest()[:14]


@dataclass
class PlanRecord:
    id: int
    code: str
    name: str
    amount: int
    interval: str
    currency: str
    created_at: str = field(default_factory=timestamp)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "plan_code": self.code,
            "description": None,
            "amount": self.amount,
            "interval": self.interval,
            "send_invoices": True,
            "send_sms": True,
            "currency": self.currency,
            "domain": "test",
            "integration": 100,
            "createdAt": self.created_at,
            "updatedAt": self.created_at,
        }


@dataclass
class SubscriptionRecord:
    id: int
    code: str
    plan: PlanRecord
    email: str
    email_token: str
    authorization_code: str
    next_payment_date: datetime | None
    start: datetime
    status: str = "active"
    created_by: str | None = None
    """The checkout reference whose payment created it (None: ``POST /subscription``)."""
    created_at: str = field(default_factory=timestamp)


class PaystackPlans:
    """Plans and subscriptions of one :class:`~oja.sandbox.paystack.PaystackFake`."""

    def __init__(self, fake: PaystackFake) -> None:
        self.fake = fake
        self.plans: dict[str, PlanRecord] = {}
        self.subscriptions: dict[str, SubscriptionRecord] = {}
        self.plan_of: dict[str, str] = {}
        """Transaction reference → the plan code it was charged for."""
        self.checkouts: set[str] = set()
        """References of checkouts initialised with a plan (paying one subscribes)."""
        self.clock_offset = timedelta(0)
        """Added to the wall clock (a test moves the fake into a later period)."""

    def now(self) -> datetime:
        """To the millisecond, as Paystack's timestamps are."""
        moment = datetime.now(UTC) + self.clock_offset
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    # Test helpers

    async def renew(self, code: str, outcome: str = "success") -> SubscriptionRecord:
        """The renewal Paystack runs on ``next_payment_date``: the invoice, the charge on the saved
        authorization, and the period moved (``success``) or the subscription in ``attention``."""
        sub = self.subscriptions[code]
        await self.fake.send_event("invoice.create", self._invoice(sub, "pending", None))
        if outcome == "success":
            tx = self._paid_transaction(sub)
            await self.fake.deliver("charge.success", tx)
            with self.fake._lock:
                start = sub.next_payment_date or self.now()
                sub.next_payment_date = start + INTERVALS[sub.plan.interval]
                sub.status = "active"
            await self.fake.send_event("invoice.update", self._invoice(sub, "success", tx))
        else:
            with self.fake._lock:
                sub.status = "attention"
            await self.fake.send_event("invoice.payment_failed", self._invoice(sub, "failed", None))
        return sub

    async def not_renew(self, code: str) -> SubscriptionRecord:
        """The customer cancels from the manage link: active until the period ends, no renewal."""
        sub = self.subscriptions[code]
        with self.fake._lock:
            sub.status = "non-renewing"
        await self.fake.send_event("subscription.not_renew", self.subscription_json(sub))
        return sub

    # Hooks the fake calls

    def charge_plan(self, tx: Transaction) -> dict[str, Any]:
        """``plan`` of a charge: the plan's object for a subscription charge, ``{}`` otherwise."""
        plan = self.plans.get(self.plan_of.get(tx.reference, ""))
        return plan.as_json() if plan is not None else {}

    async def on_charge(self, tx: Transaction) -> None:
        """A paid checkout initialised with a plan subscribes the customer to it."""
        plan = self.plans.get(self.plan_of.get(tx.reference, ""))
        if plan is None or tx.status != "success" or tx.reference not in self.checkouts:
            return
        with self.fake._lock:
            if any(s.created_by == tx.reference for s in self.subscriptions.values()):
                return
            sub = self._new_subscription(plan, tx.email, start=None, charged=True)
            sub.created_by = tx.reference
        await self.fake.send_event("subscription.create", self.subscription_json(sub))

    # Records

    def _new_subscription(
        self, plan: PlanRecord, email: str, *, start: datetime | None, charged: bool
    ) -> SubscriptionRecord:
        """Call under the fake's lock."""
        now = self.now()
        begins = start if start is not None and start > now else now
        sub = SubscriptionRecord(
            id=next(self.fake._ids),
            code=f"SUB_{secrets.token_hex(7)}",
            plan=plan,
            email=email,
            email_token=secrets.token_hex(8),
            authorization_code="AUTH_sandbox",
            next_payment_date=begins + INTERVALS[plan.interval] if charged else begins,
            start=begins,
        )
        self.subscriptions[sub.code] = sub
        return sub

    def _paid_transaction(self, sub: SubscriptionRecord) -> Transaction:
        with self.fake._lock:
            reference = secrets.token_hex(8)
            tx = Transaction(
                id=next(self.fake._ids),
                reference=reference,
                access_code=secrets.token_hex(8),
                amount=sub.plan.amount,
                currency=sub.plan.currency,
                email=sub.email,
                metadata={},
                callback_url=None,
                status="success",
                gateway_response="Approved",
                paid_at=timestamp(),
            )
            self.fake.transactions[reference] = tx
            self.plan_of[reference] = sub.plan.code
            self.fake.balance[tx.currency] = self.fake.balance.get(tx.currency, 0) + tx.amount
        return tx

    def subscription_json(self, sub: SubscriptionRecord) -> dict[str, Any]:
        return {
            "id": sub.id,
            "domain": "test",
            "status": sub.status,
            "subscription_code": sub.code,
            "email_token": sub.email_token,
            "amount": sub.plan.amount,
            "quantity": 1,
            "cron_expression": "0 0 * * *",
            "start": int(sub.start.timestamp()),
            "next_payment_date": _iso(sub.next_payment_date)
            if sub.next_payment_date is not None and sub.status in ("active", "attention")
            else None,
            "open_invoice": None,
            "invoice_limit": 0,
            "createdAt": sub.created_at,
            "plan": sub.plan.as_json(),
            "customer": {
                "id": 1,
                "email": sub.email,
                "customer_code": customer_code(sub.email),
            },
            "authorization": {
                "authorization_code": sub.authorization_code,
                "bin": "408408",
                "last4": "4081",
                "exp_month": "12",
                "exp_year": "2030",
                "card_type": "visa",
                "reusable": True,
                "signature": "SIG_sandbox",
            },
            "invoices": [],
        }

    def _invoice(
        self, sub: SubscriptionRecord, status: str, tx: Transaction | None
    ) -> dict[str, Any]:
        start = sub.next_payment_date or self.now()
        return {
            "domain": "test",
            "invoice_code": f"INV_{secrets.token_hex(7)}",
            "amount": sub.plan.amount,
            "period_start": _iso(start),
            "period_end": _iso(start + INTERVALS[sub.plan.interval]),
            "status": status,
            "paid": status == "success",
            "paid_at": timestamp() if status == "success" else None,
            "description": None,
            "authorization": self.subscription_json(sub)["authorization"],
            "subscription": {
                key: value
                for key, value in self.subscription_json(sub).items()
                if key
                in (
                    "status",
                    "subscription_code",
                    "email_token",
                    "amount",
                    "cron_expression",
                    "next_payment_date",
                    "open_invoice",
                )
            },
            "customer": {"id": 1, "email": sub.email, "customer_code": customer_code(sub.email)},
            "transaction": {
                "reference": tx.reference,
                "status": tx.status,
                "amount": tx.amount,
                "currency": tx.currency,
            }
            if tx is not None
            else {},
            "created_at": timestamp(),
        }


def register(app: FastAPI, fake: PaystackFake) -> None:
    """Add the plan and subscription routes to the fake's ``app``; the plan-aware initialize runs
    before the plain one and hands it every body without a ``plan``."""
    book = fake.subscriptions

    def ok(data: Any, message: str, status: int = 200) -> JSONResponse:
        return JSONResponse({"status": True, "message": message, "data": data}, status)

    def refuse(status: int, message: str) -> JSONResponse:
        return JSONResponse({"status": False, "message": message}, status_code=status)

    async def read(request: Request, name: str) -> dict[str, Any] | JSONResponse:
        match fake._admit(request, name):
            case 401:
                return refuse(401, "Invalid key")
            case 500:
                return refuse(500, "An error occurred")
        body = await json_object(request)
        return refuse(400, "Invalid JSON body") if body is None else body

    def find_plan(key: Any) -> PlanRecord | None:
        key = str(key or "")
        return book.plans.get(key) or next(
            (p for p in book.plans.values() if str(p.id) == key), None
        )

    plain_initialize = next(
        route.endpoint
        for route in app.router.routes
        if isinstance(route, APIRoute) and route.path == "/transaction/initialize"
    )

    async def initialize(request: Request) -> Response:
        body = await json_object(request)  # cached on the request for the plain handler
        if body is None or not body.get("plan"):
            return await plain_initialize(request)  # type: ignore[no-any-return]
        checked = await read(request, "initialize")
        if isinstance(checked, JSONResponse):
            return checked
        plan, email = find_plan(body.get("plan")), body.get("email")
        if plan is None:
            return refuse(400, "Plan not found")
        if not isinstance(email, str) or "@" not in email:
            return refuse(400, "Invalid Email Address Passed")
        reference = str(body.get("reference") or secrets.token_hex(8))
        with fake._lock:
            if reference in fake.transactions:
                return refuse(400, "Duplicate Transaction Reference")
            tx = Transaction(
                id=next(fake._ids),
                reference=reference,
                access_code=secrets.token_hex(8),
                amount=plan.amount,
                currency=plan.currency,
                email=email,
                metadata=body.get("metadata") or {},
                callback_url=body.get("callback_url"),
            )
            fake.transactions[reference] = tx
            book.plan_of[reference] = plan.code
            book.checkouts.add(reference)
        base = str(request.base_url).rstrip("/")
        return ok(
            {
                "authorization_url": f"{base}/checkout/{tx.access_code}",
                "access_code": tx.access_code,
                "reference": tx.reference,
            },
            "Authorization URL created",
        )

    app.router.routes.insert(
        0, APIRoute("/transaction/initialize", initialize, methods=["POST"], response_model=None)
    )

    @app.post("/plan")
    async def create_plan(request: Request) -> Response:
        body = await read(request, "create_plan")
        if isinstance(body, JSONResponse):
            return body
        name, amount, interval = body.get("name"), body.get("amount"), body.get("interval")
        if isinstance(amount, str) and amount.isdigit():
            amount = int(amount)
        if not isinstance(name, str) or not name:
            return refuse(400, "Name is required")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 10_000:
            return refuse(400, "Invalid Amount Sent")
        if interval not in INTERVALS:
            return refuse(400, "Invalid interval passed")
        currency = str(body.get("currency") or "NGN")
        if currency not in SUPPORTED_CURRENCIES:
            return refuse(400, "Currency not supported by merchant")
        with fake._lock:
            plan = PlanRecord(
                id=next(fake._ids),
                code=f"PLN_{secrets.token_hex(7)}",
                name=name,
                amount=amount,
                interval=str(interval),
                currency=currency,
            )
            book.plans[plan.code] = plan
        return ok(plan.as_json(), "Plan created", 201)

    @app.get("/plan")
    async def list_plans(request: Request) -> Response:
        if fake._admit(request, "list_plans") == 401:
            return refuse(401, "Invalid key")
        plans = [p.as_json() for p in book.plans.values()]
        return JSONResponse(
            {
                "status": True,
                "message": "Plans retrieved",
                "data": plans,
                "meta": {"total": len(plans), "page": 1, "perPage": 50, "pageCount": 1},
            }
        )

    @app.get("/plan/{key}")
    async def fetch_plan(key: str, request: Request) -> Response:
        if fake._admit(request, "fetch_plan") == 401:
            return refuse(401, "Invalid key")
        plan = find_plan(key)
        return (
            refuse(404, "Plan not found") if plan is None else ok(plan.as_json(), "Plan retrieved")
        )

    @app.post("/subscription")
    async def create_subscription(request: Request) -> Response:
        body = await read(request, "create_subscription")
        if isinstance(body, JSONResponse):
            return body
        plan, customer = find_plan(body.get("plan")), str(body.get("customer") or "")
        if plan is None:
            return refuse(400, "Plan not found")
        email = next(
            (
                tx.email
                for tx in fake.transactions.values()
                if customer in (tx.email, customer_code(tx.email)) and tx.status == "success"
            ),
            None,
        )
        if email is None:
            return refuse(400, "Customer has no authorization to charge")
        start: datetime | None = None
        if body.get("start_date"):
            try:
                start = datetime.fromisoformat(str(body["start_date"]).replace("Z", "+00:00"))
            except ValueError:
                return refuse(400, "Invalid start date")
        with fake._lock:
            if any(
                s.plan is plan and s.email == email and s.status in ("active", "non-renewing")
                for s in book.subscriptions.values()
            ):
                return refuse(400, "This subscription is already in place.")
            charge_now = start is None or start <= book.now()
            sub = book._new_subscription(plan, email, start=start, charged=charge_now)
        if charge_now:
            await fake.deliver("charge.success", book._paid_transaction(sub))
        await fake.send_event("subscription.create", book.subscription_json(sub))
        return ok(book.subscription_json(sub), "Subscription successfully created")

    @app.get("/subscription/{code}")
    async def fetch_subscription(code: str, request: Request) -> Response:
        if fake._admit(request, "fetch_subscription") == 401:
            return refuse(401, "Invalid key")
        sub = book.subscriptions.get(code) or next(
            (s for s in book.subscriptions.values() if str(s.id) == code), None
        )
        if sub is None:
            return refuse(404, "Subscription not found")
        return ok(book.subscription_json(sub), "Subscription retrieved successfully")

    async def toggle(request: Request, enable: bool) -> Response:
        body = await read(request, "enable_subscription" if enable else "disable_subscription")
        if isinstance(body, JSONResponse):
            return body
        sub = book.subscriptions.get(str(body.get("code") or ""))
        if sub is None or body.get("token") != sub.email_token:
            return refuse(400, "Subscription with code not found or already inactive")
        with fake._lock:
            if enable:
                if sub.status == "active":
                    return refuse(400, "Subscription is already active")
                sub.status = "active"
            else:
                if sub.status in ("cancelled", "completed"):
                    return refuse(400, "Subscription with code not found or already inactive")
                sub.status = "cancelled"
        if not enable:
            await fake.send_event("subscription.disable", book.subscription_json(sub))
        return JSONResponse(
            {
                "status": True,
                "message": f"Subscription {'enabled' if enable else 'disabled'} successfully",
            }
        )

    @app.post("/subscription/disable")
    async def disable(request: Request) -> Response:
        return await toggle(request, enable=False)

    @app.post("/subscription/enable")
    async def enable(request: Request) -> Response:
        return await toggle(request, enable=True)
