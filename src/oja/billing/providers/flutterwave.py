"""Flutterwave v3 (https://developer.flutterwave.com/v3.0.0/docs/): the
:class:`~oja.billing.providers.port.PaymentProvider` adapter for Flutterwave.

Flutterwave amounts are **major units** (naira, ``"100.50"``): this module is the only place they
exist. Outgoing amounts are :func:`~oja.billing.providers.port.to_major` strings, incoming ones are
read as Decimal and :func:`~oja.billing.providers.port.to_minor` (rounded down) — never ``float``.
Answers are ``{"status": "success"|"error", "message", "data"}``.

Webhooks: v3 sends the dashboard's secret hash verbatim in ``verif-hash``; v4 sends
``flutterwave-signature``, which one source says is the secret hash and another the base64
HMAC-SHA256 of the raw body keyed with it (contradiction C5) — either is accepted, each compared in
constant time. The body is never trusted: the transaction it names is verified through the API.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from oja.billing.providers.http import BearerJsonClient, send
from oja.billing.providers.port import (
    Bank,
    BulkTransferResult,
    InitializedTransaction,
    InvalidWebhook,
    ProviderCallRefused,
    ProviderCallUnavailable,
    ProviderEvent,
    Recipient,
    RefundResult,
    ResolvedAccount,
    Subaccount,
    TransferOrder,
    TransferResult,
    TransferStatus,
    VerifiedTransaction,
    to_major,
    to_minor,
)

PROVIDER = "flutterwave"
HASH_HEADER = "verif-hash"
SIGNATURE_HEADER = "flutterwave-signature"

_CHARGE_STATUS = {
    "successful": "success",
    "succeeded": "success",
    "failed": "failed",
    "cancelled": "abandoned",
}
"""Flutterwave's transaction status → the port's (Paystack's) vocabulary; anything else pending."""

_TRANSFER_STATUS: dict[str, TransferStatus] = {
    "NEW": "pending",
    "PENDING": "pending",
    "SUCCESSFUL": "success",
    "FAILED": "failed",
}


class FlutterwaveRefused(ProviderCallRefused):
    pass


class FlutterwaveUnavailable(ProviderCallUnavailable):
    pass


def hmac_signature(secret_hash: str, body: bytes) -> str:
    """The v4 reading of ``flutterwave-signature``: base64 HMAC-SHA256 of the raw body."""
    digest = hmac.new(secret_hash.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def webhook_authentic(secret_hash: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """``verif-hash`` equal to the secret hash, or ``flutterwave-signature`` equal to the secret
    hash or to :func:`hmac_signature` — every comparison constant-time."""
    lowered = {k.lower(): v for k, v in headers.items()}
    expected = secret_hash.encode()
    v3 = lowered.get(HASH_HEADER)
    if v3 is not None and hmac.compare_digest(v3.strip().encode(), expected):
        return True
    v4 = lowered.get(SIGNATURE_HEADER)
    if v4 is None:
        return False
    given = v4.strip().encode()
    return hmac.compare_digest(given, expected) | hmac.compare_digest(
        given, hmac_signature(secret_hash, body).encode()
    )


class FlutterwaveClient(BearerJsonClient):
    name = PROVIDER
    unavailable = FlutterwaveUnavailable

    def __init__(
        self,
        *,
        base_url: str,
        secret_key: str,
        secret_hash: str | None = None,
        redirect_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | None = None,
        retries: int | None = None,
    ) -> None:
        super().__init__(
            base_url=base_url,
            secret_key=secret_key,
            transport=transport,
            timeout=timeout,
            retries=retries,
        )
        self._secret_hash = secret_hash
        self._redirect_url = redirect_url

    # Standard checkout and verification

    async def initialize(
        self,
        *,
        email: str,
        amount: int,
        currency: str,
        reference: str,
        callback_url: str | None = None,
        metadata: dict[str, Any] | None = None,
        subaccounts: Sequence[dict[str, Any]] | None = None,
        plan: str | None = None,
    ) -> InitializedTransaction:
        """Standard checkout; ``plan`` is a Flutterwave payment plan id (``payment_plan``)."""
        redirect = callback_url or self._redirect_url
        body: dict[str, Any] = {
            "tx_ref": reference,
            "amount": str(to_major(amount, currency)),
            "currency": currency,
            "redirect_url": redirect,
            "customer": {"email": email},
        }
        if metadata:
            body["meta"] = metadata
        if subaccounts:
            body["subaccounts"] = list(subaccounts)
        if plan is not None:
            body["payment_plan"] = plan
        data = await self._object("POST", "/v3/payments", json_body=body)
        return InitializedTransaction(
            reference=reference, authorization_url=str(data["link"]), access_code=""
        )

    async def verify(self, reference: str) -> VerifiedTransaction:
        """By our ``tx_ref`` (the fallback when Flutterwave's transaction id is unknown)."""
        data = await self._object(
            "GET", "/v3/transactions/verify_by_reference", params={"tx_ref": reference}
        )
        return _verified(data)

    async def verify_transaction(self, transaction_id: str) -> VerifiedTransaction:
        path = f"/v3/transactions/{quote(transaction_id, safe='')}/verify"
        return _verified(await self._object("GET", path))

    # Refunds

    async def refund(self, *, reference: str, amount: int | None, currency: str) -> RefundResult:
        """Flutterwave refunds by its transaction id: looked up by ``reference`` first."""
        verified = await self.verify(reference)
        if verified.provider_id is None:
            raise FlutterwaveUnavailable(
                "Flutterwave's answer has no transaction id.", provider=PROVIDER
            )
        wanted = verified.amount if amount is None else amount
        return await self.refund_transaction(verified.provider_id, amount=wanted, currency=currency)

    async def refund_transaction(
        self, transaction_id: str, *, amount: int, currency: str
    ) -> RefundResult:
        path = f"/v3/transactions/{quote(transaction_id, safe='')}/refund"
        body = {"amount": str(to_major(amount, currency))}
        data = await self._object("POST", path, json_body=body)
        refunded = data.get("amount_refunded")
        return RefundResult(
            id=str(data.get("id") or ""),
            status=str(data.get("status") or "pending"),
            amount=amount if refunded is None else to_minor(refunded, currency),
            currency=currency,
        )

    # Subaccounts

    async def create_subaccount(
        self,
        *,
        business_name: str,
        bank_code: str,
        account_number: str,
        commission_percent: Decimal,
        email: str | None = None,
        phone: str | None = None,
    ) -> Subaccount:
        """A percentage subaccount: Oja keeps ``commission_percent`` (sent as a 0–1 fraction)."""
        body: dict[str, Any] = {
            "account_bank": bank_code,
            "account_number": account_number,
            "business_name": business_name,
            "business_mobile": phone or "",
            "split_type": "percentage",
            "split_value": str(commission_percent / 100),
        }
        if email:
            body["business_email"] = email
        return _subaccount(await self._object("POST", "/v3/subaccounts", json_body=body))

    async def update_subaccount(
        self,
        subaccount_id: str,
        *,
        business_name: str | None = None,
        bank_code: str | None = None,
        account_number: str | None = None,
        commission_percent: Decimal | None = None,
    ) -> Subaccount:
        fields = {
            "business_name": business_name,
            "account_bank": bank_code,
            "account_number": account_number,
            "split_value": None if commission_percent is None else str(commission_percent / 100),
        }
        body = {k: v for k, v in fields.items() if v is not None}
        path = f"/v3/subaccounts/{quote(subaccount_id, safe='')}"
        return _subaccount(await self._object("PUT", path, json_body=body))

    async def list_subaccounts(self) -> list[Subaccount]:
        return [_subaccount(s) for s in await self._list("GET", "/v3/subaccounts")]

    # Banks, recipients, transfers

    async def list_banks(self, country: str = "NG") -> list[Bank]:
        data = await self._list("GET", f"/v3/banks/{quote(country.upper(), safe='')}")
        return [
            Bank(code=str(b["code"]), name=str(b["name"]), country=country.upper()) for b in data
        ]

    async def resolve_account(self, *, account_number: str, bank_code: str) -> ResolvedAccount:
        body = {"account_number": account_number, "account_bank": bank_code}
        data = await self._object("POST", "/v3/accounts/resolve", json_body=body)
        return ResolvedAccount(
            account_number=str(data.get("account_number") or account_number),
            account_name=str(data["account_name"]),
            bank_code=bank_code,
        )

    async def create_recipient(
        self, *, name: str, account_number: str, bank_code: str, currency: str
    ) -> Recipient:
        """Flutterwave pays bank accounts directly: the recipient is the resolved account."""
        resolved = await self.resolve_account(account_number=account_number, bank_code=bank_code)
        return Recipient(
            code=f"{bank_code}:{resolved.account_number}",
            name=resolved.account_name or name,
            account_number=resolved.account_number,
            bank_code=bank_code,
            currency=currency,
        )

    async def transfer(
        self,
        *,
        amount: int,
        currency: str,
        reference: str,
        recipient: Recipient,
        reason: str | None = None,
    ) -> TransferResult:
        body: dict[str, Any] = {
            "account_bank": recipient.bank_code,
            "account_number": recipient.account_number,
            "amount": str(to_major(amount, currency)),
            "currency": currency,
            "reference": reference,
            "narration": reason or "",
            "debit_currency": currency,
        }
        return _transfer(await self._object("POST", "/v3/transfers", json_body=body))

    async def bulk_transfer(self, orders: Sequence[TransferOrder]) -> BulkTransferResult:
        body = {
            "title": f"oja-{orders[0].reference}" if orders else "oja",
            "bulk_data": [
                {
                    "bank_code": o.recipient.bank_code,
                    "account_number": o.recipient.account_number,
                    "amount": str(to_major(o.amount, o.currency)),
                    "currency": o.currency,
                    "narration": o.reason or "",
                    "reference": o.reference,
                }
                for o in orders
            ],
        }
        data = await self._object("POST", "/v3/bulk-transfers", json_body=body)
        return BulkTransferResult(batch_id=str(data.get("id") or ""), transfers=())

    async def verify_transfer(self, reference: str) -> TransferResult:
        found = await self._list("GET", "/v3/transfers", params={"reference": reference})
        match = next((t for t in found if t.get("reference") == reference), None)
        if match is None:
            raise FlutterwaveRefused("Transfer not found", provider=PROVIDER, status_code=404)
        return _transfer(match)

    async def fetch_transfer(self, transfer_id: str) -> TransferResult:
        path = f"/v3/transfers/{quote(transfer_id, safe='')}"
        return _transfer(await self._object("GET", path))

    # Webhooks

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        if not self._secret_hash:
            raise InvalidWebhook("No Flutterwave secret hash is configured.", reason="signature")
        return parse_webhook(self._secret_hash, body, headers)

    # Transport

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        status, payload = await send(
            self._http,
            method,
            path,
            provider=PROVIDER,
            label="Flutterwave",
            json_body=json_body,
            params=params,
            unavailable=FlutterwaveUnavailable,
        )
        if status >= 400 or payload.get("status") != "success":
            message = str(payload.get("message") or "Flutterwave refused the request.")
            raise FlutterwaveRefused(message, provider=PROVIDER, status_code=status)
        return payload.get("data")


def parse_webhook(secret_hash: str, body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
    """Authenticate, then normalise the three payload dialects (v3 ``event``, v4 ``type`` with a
    ``wbk_`` id, legacy ``event.type``)."""
    if not webhook_authentic(secret_hash, body, headers):
        raise InvalidWebhook(
            "Neither verif-hash nor flutterwave-signature authenticates this delivery.",
            reason="signature",
        )
    try:
        event = json.loads(body, parse_float=Decimal)
    except ValueError:
        event = None
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        raise InvalidWebhook("The body is not a Flutterwave event.", reason="payload")
    data: dict[str, Any] = event["data"]
    name = event.get("event") or event.get("type") or event.get("event.type")
    if not isinstance(name, str) or not name:
        raise InvalidWebhook("The body is not a Flutterwave event.", reason="payload")
    status = str(data.get("status") or "")
    reference = data.get("tx_ref") or data.get("reference") or data.get("txRef")
    subject = data.get("id") or reference or "-"
    wbk = event.get("id")
    return ProviderEvent(
        provider=PROVIDER,
        type=_event_type(name, status),
        event_id=str(wbk) if isinstance(wbk, str) and wbk else f"{name}:{subject}:{status.lower()}",
        reference=None if reference is None else str(reference),
        transaction_id=None if data.get("id") is None else str(data["id"]),
        provider_type=name,
        payload=json.loads(body),  # stored as received (floats are fine in the inbox's JSON)
    )


def _event_type(name: str, status: str) -> str:
    lowered = status.lower()
    if name in ("charge.completed", "CARD_TRANSACTION", "BANK_TRANSFER_TRANSACTION"):
        if lowered in ("successful", "succeeded"):
            return "charge.success"
        return "charge.failed" if lowered == "failed" else "charge.pending"
    if name in ("transfer.completed", "Transfer"):
        return {"successful": "transfer.success", "failed": "transfer.failed"}.get(
            lowered, "transfer.pending"
        )
    return name


def _verified(data: dict[str, Any]) -> VerifiedTransaction:
    currency = str(data.get("currency") or "").upper()
    raw = str(data.get("status") or "")
    created = data.get("created_at")
    fee = data.get("app_fee")
    return VerifiedTransaction(
        reference=str(data.get("tx_ref") or ""),
        status=_CHARGE_STATUS.get(raw.lower(), "pending"),
        amount=to_minor(data.get("amount"), currency),
        currency=currency,
        paid_at=_parse_time(created)
        if raw.lower() == "successful" and isinstance(created, str)
        else None,
        gateway_response=None
        if data.get("processor_response") is None
        else str(data["processor_response"])[:500],
        channel=None if data.get("payment_type") is None else str(data["payment_type"])[:50],
        provider_id=None if data.get("id") is None else str(data["id"]),
        provider_status=raw,
        fees=None if fee is None else to_minor(fee, currency),
    )


def _subaccount(data: dict[str, Any]) -> Subaccount:
    value = data.get("split_value")
    percent = None
    if value is not None and data.get("split_type", "percentage") == "percentage":
        percent = Decimal(str(value)) * 100
    return Subaccount(
        code=str(data.get("subaccount_id") or ""),
        provider_id=str(data.get("id") or ""),
        business_name=str(data.get("business_name") or data.get("full_name") or ""),
        account_number=str(data.get("account_number") or ""),
        bank=str(data.get("bank_name") or data.get("account_bank") or ""),
        commission_percent=percent,
    )


def _transfer(data: dict[str, Any]) -> TransferResult:
    currency = str(data.get("currency") or "NGN").upper()
    raw = str(data.get("status") or "NEW").upper()
    fee = data.get("fee")
    return TransferResult(
        reference=str(data.get("reference") or ""),
        status=_TRANSFER_STATUS.get(raw, "pending"),
        amount=to_minor(data.get("amount") or 0, currency),
        currency=currency,
        transfer_code=None if data.get("id") is None else str(data["id"]),
        provider_status=raw,
        fee=None if fee is None else to_minor(fee, currency),
        message=None if data.get("complete_message") is None else str(data["complete_message"]),
    )


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
