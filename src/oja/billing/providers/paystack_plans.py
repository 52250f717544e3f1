"""Paystack Plans and Subscriptions (https://paystack.com/docs/api/plan/,
https://paystack.com/docs/api/subscription/) on the Paystack client.

A subscription's webhook is never trusted for its figures: :meth:`PaystackPlansClient.subscription`
re-reads it, and only that answer's status, plan and ``next_payment_date`` are acted on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from oja.billing.providers.paystack import PaystackClient, _parse_time, _text


@dataclass(frozen=True, slots=True)
class PaystackPlan:
    code: str
    name: str
    amount: int
    interval: str
    currency: str


@dataclass(frozen=True, slots=True)
class PaystackSubscription:
    code: str
    status: str
    """``active``, ``non-renewing``, ``attention`` (a renewal failed), ``cancelled``, ``completed``."""
    plan_code: str
    plan_name: str
    amount: int
    email: str
    customer_code: str | None
    email_token: str | None
    authorization_code: str | None
    next_payment_date: datetime | None


def _plan(data: dict[str, Any]) -> PaystackPlan:
    return PaystackPlan(
        code=str(data.get("plan_code") or ""),
        name=str(data.get("name") or ""),
        amount=int(data.get("amount") or 0),
        interval=str(data.get("interval") or ""),
        currency=str(data.get("currency") or "NGN"),
    )


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _subscription(data: dict[str, Any]) -> PaystackSubscription:
    plan, customer = _object(data, "plan"), _object(data, "customer")
    authorization = _object(data, "authorization")
    next_payment = data.get("next_payment_date")
    return PaystackSubscription(
        code=str(data.get("subscription_code") or ""),
        status=str(data.get("status") or ""),
        plan_code=str(plan.get("plan_code") or ""),
        plan_name=str(plan.get("name") or ""),
        amount=int(data.get("amount") or plan.get("amount") or 0),
        email=str(customer.get("email") or ""),
        customer_code=_text(customer.get("customer_code")),
        email_token=_text(data.get("email_token")),
        authorization_code=_text(authorization.get("authorization_code")),
        next_payment_date=_parse_time(next_payment) if isinstance(next_payment, str) else None,
    )


class PaystackPlansClient(PaystackClient):
    async def plans(self) -> list[PaystackPlan]:
        return [_plan(item) for item in await self._list("GET", "/plan", params={"perPage": 100})]

    async def create_plan(
        self, *, name: str, amount: int, interval: str, currency: str
    ) -> PaystackPlan:
        body = {"name": name, "amount": amount, "interval": interval, "currency": currency}
        return _plan(await self._object("POST", "/plan", json_body=body))

    async def subscription(self, code: str) -> PaystackSubscription:
        return _subscription(await self._object("GET", f"/subscription/{quote(code, safe='')}"))

    async def subscribe(
        self,
        *,
        customer: str,
        plan: str,
        authorization: str | None = None,
        start_date: datetime | None = None,
    ) -> PaystackSubscription:
        """A subscription charged on the customer's saved card: now, or from ``start_date``."""
        body: dict[str, Any] = {"customer": customer, "plan": plan}
        if authorization:
            body["authorization"] = authorization
        if start_date is not None:
            body["start_date"] = start_date.isoformat()
        return _subscription(await self._object("POST", "/subscription", json_body=body))

    async def disable(self, code: str, email_token: str) -> None:
        await self._call(
            "POST", "/subscription/disable", json_body={"code": code, "token": email_token}
        )
