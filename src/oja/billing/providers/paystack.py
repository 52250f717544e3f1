"""Paystack through a small typed httpx client (https://paystack.com/docs/api/).

Every call answers ``{"status": bool, "message": str, "data": ...}``. A refusal (``status: false`` or
a 4xx) raises :class:`PaystackRefused` with Paystack's message; a 5xx, a timeout or a refused
connection raises :class:`PaystackUnavailable`. Webhooks are signed with HMAC-SHA512 of the raw body
under the secret key, sent in ``x-paystack-signature``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from oja.core.http import Closing, create_http_client

SIGNATURE_HEADER = "x-paystack-signature"


class PaystackRefused(Exception):
    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class PaystackUnavailable(Exception):
    pass


@dataclass(frozen=True, slots=True)
class InitializedTransaction:
    reference: str
    authorization_url: str
    access_code: str


@dataclass(frozen=True, slots=True)
class VerifiedTransaction:
    reference: str
    status: str
    amount: int
    currency: str
    paid_at: datetime | None
    gateway_response: str | None
    channel: str | None


@dataclass(frozen=True, slots=True)
class RefundResult:
    id: str
    status: str
    amount: int
    currency: str
    merchant_note: str | None = None


def sign(secret_key: str, body: bytes) -> str:
    return hmac.new(secret_key.encode(), body, hashlib.sha512).hexdigest()


def signature_valid(secret_key: str, body: bytes, header: str | None) -> bool:
    """Constant-time comparison of ``header`` with the HMAC-SHA512 of the raw ``body``."""
    if not header:
        return False
    return hmac.compare_digest(sign(secret_key, body), header.strip().lower())


class PaystackClient(Closing):
    def __init__(
        self,
        *,
        base_url: str,
        secret_key: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | None = None,
    ) -> None:
        self._http = create_http_client(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=timeout,
            headers={"Authorization": f"Bearer {secret_key}"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def initialize(
        self,
        *,
        email: str,
        amount: int,
        currency: str,
        reference: str,
        callback_url: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> InitializedTransaction:
        body: dict[str, Any] = {
            "email": email,
            "amount": amount,
            "currency": currency,
            "reference": reference,
        }
        if callback_url:
            body["callback_url"] = callback_url
        if metadata:
            body["metadata"] = metadata
        data = await self._call("POST", "/transaction/initialize", json=body)
        return InitializedTransaction(
            reference=str(data.get("reference") or reference),
            authorization_url=str(data["authorization_url"]),
            access_code=str(data["access_code"]),
        )

    async def verify(self, reference: str) -> VerifiedTransaction:
        data = await self._call("GET", f"/transaction/verify/{quote(reference, safe='')}")
        paid = data.get("paid_at") or data.get("paidAt")
        return VerifiedTransaction(
            reference=str(data.get("reference") or reference),
            status=str(data.get("status") or ""),
            amount=int(data["amount"]),
            currency=str(data.get("currency") or ""),
            paid_at=_parse_time(paid) if isinstance(paid, str) else None,
            gateway_response=_text(data.get("gateway_response")),
            channel=_text(data.get("channel")),
        )

    async def refund(
        self,
        *,
        reference: str,
        amount: int | None,
        currency: str,
        merchant_note: str | None = None,
    ) -> RefundResult:
        body: dict[str, Any] = {"transaction": reference, "currency": currency}
        if amount is not None:
            body["amount"] = amount
        if merchant_note is not None:
            body["merchant_note"] = merchant_note
        data = await self._call("POST", "/refund", json=body)
        return _refund_result(data, amount=amount, currency=currency)

    async def refunds_of(self, reference: str) -> list[RefundResult]:
        """The refunds of a transaction (``GET /refund?transaction=``), to find one a crashed
        caller created but did not record."""
        data = await self._call_list("GET", "/refund", params={"transaction": reference})
        return [_refund_result(item, amount=None, currency="") for item in data]

    async def fetch_refund(self, refund_id: str) -> RefundResult:
        data = await self._call("GET", f"/refund/{quote(refund_id, safe='')}")
        return _refund_result(data, amount=None, currency="")

    async def _call_list(
        self, method: str, path: str, *, params: dict[str, str]
    ) -> list[dict[str, Any]]:
        data = await self._send(method, path, params=params)
        if not isinstance(data, list):
            raise PaystackUnavailable("Paystack's answer has no list.")
        return [item for item in data if isinstance(item, dict)]

    async def _call(self, method: str, path: str, *, json: Any = None) -> dict[str, Any]:
        data = await self._send(method, path, json=json)
        if not isinstance(data, dict):
            raise PaystackUnavailable("Paystack's answer has no data.")
        return data

    async def _send(
        self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        try:
            response = await self._http.request(method, path, json=json, params=params)
        except httpx.HTTPError as exc:
            raise PaystackUnavailable(
                f"Paystack could not be reached ({type(exc).__name__})."
            ) from exc
        if response.status_code >= 500:
            raise PaystackUnavailable(f"Paystack answered {response.status_code}.")
        try:
            payload = response.json()
        except ValueError as exc:
            raise PaystackUnavailable("Paystack answered with something that is not JSON.") from exc
        if not isinstance(payload, dict):
            raise PaystackUnavailable("Paystack answered with an unexpected body.")
        message = str(payload.get("message") or "Paystack refused the request.")
        if response.status_code >= 400 or payload.get("status") is not True:
            raise PaystackRefused(message, response.status_code)
        return payload.get("data")


def _refund_result(data: dict[str, Any], *, amount: int | None, currency: str) -> RefundResult:
    return RefundResult(
        id=str(data.get("id") or ""),
        status=str(data.get("status") or "pending"),
        amount=int(data.get("amount") or amount or 0),
        currency=str(data.get("currency") or currency),
        merchant_note=_text(data.get("merchant_note")),
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)[:500]


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
