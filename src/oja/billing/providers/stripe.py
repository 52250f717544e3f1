"""Stripe through the official SDK: the only module that imports ``stripe``.

A :class:`StripeGateway` owns one ``StripeClient`` pointed at ``OJA_STRIPE_API_BASE`` (no module
globals, so tests and the sandbox can run side by side) and speaks async through the SDK's httpx
client. SDK errors become :class:`StripeRefused` (4xx: the request was wrong or declined) or
:class:`StripeUnavailable` (network, 5xx). Webhooks are verified by the SDK's own signature check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe

from oja.billing.providers.port import ProviderCallRefused, ProviderCallUnavailable
from oja.core.http import Closing

SIGNATURE_HEADER = "stripe-signature"


class StripeRefused(ProviderCallRefused):
    def __init__(
        self, message: str, code: str | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(message, provider="stripe", status_code=status_code, provider_code=code)
        self.code = code


class StripeUnavailable(ProviderCallUnavailable):
    def __init__(self, message: str) -> None:
        super().__init__(message, provider="stripe")


class InvalidStripeSignature(Exception):
    pass


@dataclass(frozen=True, slots=True)
class SubscriptionState:
    id: str
    customer_id: str
    status: str
    price_id: str | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None
    user_id: str | None
    """``metadata.user_id`` written at checkout."""


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    id: str
    url: str


def verify_webhook(
    payload: bytes, header: str | None, secret: str, tolerance: int
) -> dict[str, Any]:
    """The event as a dict if ``header`` signs ``payload`` within ``tolerance`` seconds."""
    if not header:
        raise InvalidStripeSignature("missing Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), header, secret, tolerance)
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
        raise InvalidStripeSignature(str(exc)) from exc
    try:
        event = json.loads(payload)
    except ValueError as exc:
        raise InvalidStripeSignature("the signed payload is not JSON") from exc
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise InvalidStripeSignature("the signed payload is not a Stripe event")
    return event


class _HTTPXClient(stripe.HTTPXClient):
    """The SDK's httpx client, sending the encoded form as ``content=``.

    The SDK passes its already-encoded body as ``data=``, which httpx deprecates for raw bytes
    (a DeprecationWarning on every call, an error under ``-W error``). Same bytes, right keyword.
    """

    def _get_request_args_kwargs(
        self, method: str, url: str, headers: Any, post_data: Any = None
    ) -> tuple[Any, dict[str, Any]]:
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        data = kwargs.pop("data", None)
        if data:
            kwargs["content"] = data
        return args, kwargs


class StripeGateway(Closing):
    def __init__(self, *, secret_key: str, api_base: str, max_network_retries: int = 2) -> None:
        self._http = _HTTPXClient(timeout=20)
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base.rstrip("/")},
            http_client=self._http,
            max_network_retries=max_network_retries,
        )

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def create_customer(
        self, *, email: str | None, user_id: str, idempotency_key: str
    ) -> str:
        params: dict[str, Any] = {"metadata": {"user_id": user_id}}
        if email:
            params["email"] = email
        try:
            customer = await self._client.v1.customers.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        return str(customer.id)

    async def create_checkout_session(
        self,
        *,
        customer_id: str,
        price_id: str,
        user_id: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str | None,
    ) -> CheckoutSession:
        params: dict[str, Any] = {
            "mode": "subscription",
            "customer": customer_id,
            "client_reference_id": user_id,
            "line_items": [{"price": price_id, "quantity": 1}],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "metadata": {"user_id": user_id},
            "subscription_data": {"metadata": {"user_id": user_id}},
        }
        options: dict[str, Any] = {}
        if idempotency_key:
            options["idempotency_key"] = idempotency_key
        try:
            session = await self._client.v1.checkout.sessions.create_async(
                params,  # type: ignore[arg-type]
                options,  # type: ignore[arg-type]
            )
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        return CheckoutSession(id=str(session.id), url=str(session.url))

    async def retrieve_subscription(self, subscription_id: str) -> SubscriptionState:
        try:
            found = await self._client.v1.subscriptions.retrieve_async(subscription_id)
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        return _subscription_state(found.to_dict())

    async def set_cancel_at_period_end(
        self, subscription_id: str, value: bool
    ) -> SubscriptionState:
        try:
            updated = await self._client.v1.subscriptions.update_async(
                subscription_id,
                {"cancel_at_period_end": value},
                {"idempotency_key": f"cancel-at-period-end:{subscription_id}:{value}"},
            )
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        return _subscription_state(updated.to_dict())

    async def create_portal_session(self, *, customer_id: str, return_url: str) -> str:
        try:
            portal = await self._client.v1.billing_portal.sessions.create_async(
                {"customer": customer_id, "return_url": return_url}
            )
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        return str(portal.url)


def _translate(exc: stripe.StripeError) -> Exception:
    if isinstance(exc, stripe.APIConnectionError) or (exc.http_status or 0) >= 500:
        return StripeUnavailable(f"Stripe could not be reached or failed ({type(exc).__name__}).")
    message = exc.user_message or str(exc) or "Stripe refused the request."
    return StripeRefused(message, exc.code, exc.http_status)


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, int | float) and value > 0:
        return datetime.fromtimestamp(value, UTC)
    return None


def _subscription_state(data: dict[str, Any]) -> SubscriptionState:
    items = (data.get("items") or {}).get("data") or []
    first = items[0] if items else {}
    price = first.get("price") or {}
    # API versions from 2025-03-31 keep the period on the items; older ones on the subscription.
    period_end = data.get("current_period_end") or first.get("current_period_end")
    customer = data.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    metadata = data.get("metadata") or {}
    return SubscriptionState(
        id=str(data["id"]),
        customer_id=str(customer or ""),
        status=str(data.get("status") or "incomplete"),
        price_id=price.get("id") if isinstance(price, dict) else None,
        current_period_end=_timestamp(period_end),
        cancel_at_period_end=bool(data.get("cancel_at_period_end")),
        canceled_at=_timestamp(data.get("canceled_at")),
        user_id=str(metadata["user_id"]) if metadata.get("user_id") else None,
    )
