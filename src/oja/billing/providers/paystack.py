"""Paystack through a small typed httpx client (https://paystack.com/docs/api/): the
:class:`~oja.billing.providers.port.PaymentProvider` adapter for Paystack.

Every call answers ``{"status": bool, "message": str, "data": ...}``. A refusal (``status: false`` or
a 4xx) raises :class:`PaystackRefused` with Paystack's message and machine ``code``; a 429 raises
:class:`PaystackRateLimited`; a 5xx, a timeout or a refused connection raises
:class:`PaystackUnavailable`. Paystack speaks minor units (kobo) already: no conversion here.
Webhooks are signed with HMAC-SHA512 of the raw body under the secret key, sent in
``x-paystack-signature``.
"""

from __future__ import annotations

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
    Dispute,
    InitializedTransaction,
    InvalidWebhook,
    ProviderCallRateLimited,
    ProviderCallRefused,
    ProviderCallUnavailable,
    ProviderEvent,
    Recipient,
    RefundResult,
    ResolvedAccount,
    Split,
    Subaccount,
    TransferOrder,
    TransferResult,
    TransferStatus,
    VerifiedTransaction,
)

SIGNATURE_HEADER = "x-paystack-signature"
PROVIDER = "paystack"
COUNTRIES = {
    "NG": "nigeria",
    "GH": "ghana",
    "ZA": "south africa",
    "KE": "kenya",
    "CI": "cote d'ivoire",
}
"""ISO country → the name ``GET /bank?country=`` takes."""

__all__ = [
    "InitializedTransaction",
    "PaystackClient",
    "PaystackRateLimited",
    "PaystackRefused",
    "PaystackUnavailable",
    "RefundResult",
    "VerifiedTransaction",
    "sign",
    "signature_valid",
]


class PaystackRefused(ProviderCallRefused):
    def __init__(self, message: str, status_code: int, provider_code: str | None = None) -> None:
        super().__init__(
            message, provider=PROVIDER, status_code=status_code, provider_code=provider_code
        )


class PaystackUnavailable(ProviderCallUnavailable):
    def __init__(
        self,
        message: str,
        *,
        provider: str = PROVIDER,
        status_code: int | None = None,
        provider_code: str | None = None,
    ) -> None:
        super().__init__(
            message, provider=provider, status_code=status_code, provider_code=provider_code
        )


class PaystackRateLimited(PaystackUnavailable, ProviderCallRateLimited):
    def __init__(
        self,
        message: str,
        *,
        provider: str = PROVIDER,
        retry_after: float | None,
        provider_code: str | None = None,
    ) -> None:
        ProviderCallRateLimited.__init__(
            self, message, provider=provider, retry_after=retry_after, provider_code=provider_code
        )


def sign(secret_key: str, body: bytes) -> str:
    return hmac.new(secret_key.encode(), body, hashlib.sha512).hexdigest()


def signature_valid(secret_key: str, body: bytes, header: str | None) -> bool:
    """Constant-time comparison of ``header`` with the HMAC-SHA512 of the raw ``body``."""
    if not header:
        return False
    return hmac.compare_digest(sign(secret_key, body), header.strip().lower())


_TRANSFER_STATUS: dict[str, TransferStatus] = {
    "pending": "pending",
    "received": "pending",
    "queued": "pending",
    "otp": "otp",
    "success": "success",
    "failed": "failed",
    "abandoned": "failed",
    "blocked": "failed",
    "rejected": "failed",
    "reversed": "reversed",
}


class PaystackClient(BearerJsonClient):
    name = PROVIDER
    unavailable = PaystackUnavailable

    def __init__(
        self,
        *,
        base_url: str,
        secret_key: str,
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
        self._secret_key = secret_key

    # Transactions

    async def initialize(
        self,
        *,
        email: str,
        amount: int,
        currency: str,
        reference: str,
        callback_url: str | None = None,
        metadata: dict[str, Any] | None = None,
        split_code: str | None = None,
        subaccount: str | None = None,
        bearer: str | None = None,
        transaction_charge: int | None = None,
        plan: str | None = None,
        split: dict[str, Any] | None = None,
    ) -> InitializedTransaction:
        """``plan`` (a ``PLN_`` code) makes the checkout a subscription: Paystack charges the
        plan's amount, and paying subscribes the customer. ``split`` is a dynamic split
        (``type``, ``currency``, ``subaccounts [{subaccount, share}]``, ``bearer_type``)."""
        body: dict[str, Any] = {
            "email": email,
            "amount": amount,
            "currency": currency,
            "reference": reference,
        }
        optional = {
            "callback_url": callback_url,
            "metadata": metadata,
            "split_code": split_code,
            "subaccount": subaccount,
            "bearer": bearer,
            "transaction_charge": transaction_charge,
            "plan": plan,
            "split": split,
        }
        body.update({k: v for k, v in optional.items() if v})
        data = await self._object("POST", "/transaction/initialize", json_body=body)
        return InitializedTransaction(
            reference=str(data.get("reference") or reference),
            authorization_url=str(data["authorization_url"]),
            access_code=str(data["access_code"]),
        )

    async def verify(self, reference: str) -> VerifiedTransaction:
        data = await self._object("GET", f"/transaction/verify/{quote(reference, safe='')}")
        paid = data.get("paid_at") or data.get("paidAt")
        status = str(data.get("status") or "")
        return VerifiedTransaction(
            reference=str(data.get("reference") or reference),
            status=status,
            amount=int(data["amount"]),
            currency=str(data.get("currency") or ""),
            paid_at=_parse_time(paid) if isinstance(paid, str) else None,
            gateway_response=_text(data.get("gateway_response")),
            channel=_text(data.get("channel")),
            provider_id=_text(data.get("id")),
            provider_status=status,
            fees=_int_or_none(data.get("fees")),
            split_shares=_split_shares(data.get("split")),
        )

    # Refunds

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
        data = await self._object("POST", "/refund", json_body=body)
        return _refund(data, amount, currency)

    async def fetch_refund(self, refund_id: str) -> RefundResult:
        data = await self._object("GET", f"/refund/{quote(refund_id, safe='')}")
        return _refund(data, None, "")

    async def list_refunds(self, reference: str) -> list[RefundResult]:
        data = await self._list("GET", "/refund", params={"transaction": reference})
        return [_refund(item, None, "") for item in data]

    async def retry_refund(
        self, refund_id: str, *, currency: str, account_number: str, bank_id: str
    ) -> RefundResult:
        """Only for a refund in ``needs-attention``: pay it to the customer's bank account."""
        body = {
            "refund_account_details": {
                "currency": currency,
                "account_number": account_number,
                "bank_id": bank_id,
            }
        }
        data = await self._object(
            "POST",
            f"/refund/retry_with_customer_details/{quote(refund_id, safe='')}",
            json_body=body,
        )
        return _refund(data, None, currency)

    # Subaccounts and splits

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
        body: dict[str, Any] = {
            "business_name": business_name,
            "settlement_bank": bank_code,
            "account_number": account_number,
            "percentage_charge": float(commission_percent),
        }
        if email:
            body["primary_contact_email"] = email
        if phone:
            body["primary_contact_phone"] = phone
        return _subaccount(await self._object("POST", "/subaccount", json_body=body))

    async def update_subaccount(
        self,
        code: str,
        *,
        business_name: str | None = None,
        bank_code: str | None = None,
        account_number: str | None = None,
        commission_percent: Decimal | None = None,
        active: bool | None = None,
    ) -> Subaccount:
        fields = {
            "business_name": business_name,
            "settlement_bank": bank_code,
            "account_number": account_number,
            "percentage_charge": None if commission_percent is None else float(commission_percent),
            "active": active,
        }
        body = {k: v for k, v in fields.items() if v is not None}
        path = f"/subaccount/{quote(code, safe='')}"
        return _subaccount(await self._object("PUT", path, json_body=body))

    async def list_subaccounts(self, *, page: int = 1, per_page: int = 50) -> list[Subaccount]:
        data = await self._list("GET", "/subaccount", params={"page": page, "perPage": per_page})
        return [_subaccount(item) for item in data]

    async def create_split(
        self,
        *,
        name: str,
        type: str,
        currency: str,
        shares: Sequence[tuple[str, int]],
        bearer_type: str = "account",
        bearer_subaccount: str | None = None,
    ) -> Split:
        """Always sends ``bearer_type``: the default differs between Paystack's pages (C2)."""
        body: dict[str, Any] = {
            "name": name,
            "type": type,
            "currency": currency,
            "subaccounts": [{"subaccount": code, "share": share} for code, share in shares],
            "bearer_type": bearer_type,
        }
        if bearer_subaccount:
            body["bearer_subaccount"] = bearer_subaccount
        data = await self._object("POST", "/split", json_body=body)
        return Split(
            code=str(data["split_code"]),
            name=str(data.get("name") or name),
            type="flat" if data.get("type") == "flat" else "percentage",
            currency=str(data.get("currency") or currency),
            shares=tuple(
                (str((s.get("subaccount") or {}).get("subaccount_code")), int(s["share"]))
                for s in data.get("subaccounts") or []
            ),
            bearer_type=str(data.get("bearer_type") or bearer_type),
            active=bool(data.get("active", True)),
        )

    # Banks, recipients, transfers

    async def list_banks(self, country: str = "NG") -> list[Bank]:
        params = {"country": COUNTRIES.get(country.upper(), country.lower()), "perPage": 100}
        data = await self._list("GET", "/bank", params=params)
        return [
            Bank(
                code=str(b["code"]),
                name=str(b["name"]),
                country=_text(b.get("country")),
                currency=_text(b.get("currency")),
            )
            for b in data
        ]

    async def resolve_account(self, *, account_number: str, bank_code: str) -> ResolvedAccount:
        params = {"account_number": account_number, "bank_code": bank_code}
        data = await self._object("GET", "/bank/resolve", params=params)
        return ResolvedAccount(
            account_number=str(data.get("account_number") or account_number),
            account_name=str(data["account_name"]),
            bank_code=bank_code,
        )

    async def create_recipient(
        self, *, name: str, account_number: str, bank_code: str, currency: str
    ) -> Recipient:
        body = {
            "type": {"ZAR": "basa", "GHS": "ghipss"}.get(currency, "nuban"),
            "name": name,
            "account_number": account_number,
            "bank_code": bank_code,
            "currency": currency,
        }
        data = await self._object("POST", "/transferrecipient", json_body=body)
        details = data.get("details") or {}
        return Recipient(
            code=str(data["recipient_code"]),
            name=str(details.get("account_name") or data.get("name") or name),
            account_number=str(details.get("account_number") or account_number),
            bank_code=str(details.get("bank_code") or bank_code),
            currency=str(data.get("currency") or currency),
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
        """Retried with the same ``reference``, Paystack answers the existing transfer or "Reference
        already exists" (C3): the caller then asks :meth:`verify_transfer`."""
        body: dict[str, Any] = {
            "source": "balance",
            "amount": amount,
            "currency": currency,
            "reference": reference,
            "recipient": recipient.code,
        }
        if reason:
            body["reason"] = reason
        return _transfer(await self._object("POST", "/transfer", json_body=body))

    async def finalize_transfer(self, transfer_code: str, otp: str) -> TransferResult:
        body = {"transfer_code": transfer_code, "otp": otp}
        return _transfer(await self._object("POST", "/transfer/finalize_transfer", json_body=body))

    async def resend_transfer_otp(self, transfer_code: str) -> None:
        """Paystack sends the OTP of a transfer waiting in ``otp`` to the business's phone again."""
        body = {"transfer_code": transfer_code, "reason": "transfer"}
        await self._call("POST", "/transfer/resend_otp", json_body=body)

    async def bulk_transfer(self, orders: Sequence[TransferOrder]) -> BulkTransferResult:
        """At most 100 transfers per call, OTP disabled (Paystack's rules)."""
        currency = orders[0].currency if orders else "NGN"
        body = {
            "source": "balance",
            "currency": currency,
            "transfers": [
                {
                    "amount": o.amount,
                    "recipient": o.recipient.code,
                    "reference": o.reference,
                    "reason": o.reason or "",
                }
                for o in orders
            ],
        }
        data = await self._list("POST", "/transfer/bulk", json_body=body)
        return BulkTransferResult(
            batch_id=None,
            transfers=tuple(_transfer({"currency": currency, **item}) for item in data),
        )

    async def verify_transfer(self, reference: str) -> TransferResult:
        path = f"/transfer/verify/{quote(reference, safe='')}"
        return _transfer(await self._object("GET", path))

    # Disputes

    async def list_disputes(self, *, status: str | None = None) -> list[Dispute]:
        params = {"status": status} if status else None
        return [_dispute(d) for d in await self._list("GET", "/dispute", params=params)]

    async def fetch_dispute(self, dispute_id: str) -> Dispute:
        """``GET /dispute/{id}``: where a dispute stands, whatever a webhook body said."""
        return _dispute(await self._object("GET", f"/dispute/{quote(dispute_id, safe='')}"))

    async def add_dispute_evidence(
        self,
        dispute_id: str,
        *,
        customer_email: str,
        customer_name: str,
        customer_phone: str,
        service_details: str,
        delivery_address: str | None = None,
        delivery_date: str | None = None,
    ) -> str:
        """Returns the evidence id, which :meth:`resolve_dispute` cites."""
        body: dict[str, Any] = {
            "customer_email": customer_email,
            "customer_name": customer_name,
            "customer_phone": customer_phone,
            "service_details": service_details,
        }
        if delivery_address:
            body["delivery_address"] = delivery_address
        if delivery_date:
            body["delivery_date"] = delivery_date
        path = f"/dispute/{quote(dispute_id, safe='')}/evidence"
        data = await self._object("POST", path, json_body=body)
        return str(data["id"])

    async def resolve_dispute(
        self,
        dispute_id: str,
        *,
        resolution: str,
        message: str,
        refund_amount: int,
        uploaded_filename: str,
        evidence: str | None = None,
    ) -> Dispute:
        body: dict[str, Any] = {
            "resolution": resolution,
            "message": message,
            "refund_amount": refund_amount,
            "uploaded_filename": uploaded_filename,
        }
        if evidence is not None:
            body["evidence"] = int(evidence) if evidence.isdigit() else evidence
        path = f"/dispute/{quote(dispute_id, safe='')}/resolve"
        return _dispute(await self._object("PUT", path, json_body=body))

    # Webhooks

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        return parse_webhook(self._secret_key, body, headers)

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
            label="Paystack",
            json_body=json_body,
            params=params,
            unavailable=PaystackUnavailable,
            rate_limited=PaystackRateLimited,
        )
        message = str(payload.get("message") or "Paystack refused the request.")
        if status >= 400 or payload.get("status") is not True:
            raise PaystackRefused(message, status, _text(payload.get("code")))
        return payload.get("data")


def parse_webhook(secret_key: str, body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
    """Authenticate (HMAC-SHA512, constant time) and normalise one Paystack delivery."""
    signature = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER), None)
    if not signature_valid(secret_key, body, signature):
        raise InvalidWebhook(
            "The x-paystack-signature header does not match the body.", reason="signature"
        )
    try:
        event = json.loads(body)
    except ValueError:
        event = None
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        raise InvalidWebhook("The signed body is not a Paystack event.", reason="payload")
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    assert isinstance(data, dict)
    name = str(event["event"])
    reference = data.get("reference") or data.get("transaction_reference")
    return ProviderEvent(
        provider=PROVIDER,
        type=_event_type(name, data),
        event_id=event_id(event, body),
        reference=_text(reference),
        # A charge event's id is the transaction's; a dispute's (charge.dispute.*) is the dispute's.
        transaction_id=_text(data.get("id"))
        if name.startswith("charge.") and not name.startswith("charge.dispute.")
        else None,
        provider_type=name,
        payload=event,
    )


def event_id(event: dict[str, Any], body: bytes) -> str:
    """Paystack sends no event id: the event name, the object's id or reference, and a body hash."""
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    assert isinstance(data, dict)
    subject = data.get("id") or data.get("reference") or "-"
    return f"{event.get('event', '?')}:{subject}:{hashlib.sha256(body).hexdigest()[:32]}"


def _event_type(name: str, data: dict[str, Any]) -> str:
    if name == "charge.success":
        return "charge.success"
    if name.startswith("charge.dispute."):
        return "dispute." + name.removeprefix("charge.dispute.")
    if name.startswith("charge."):
        return "charge.failed" if data.get("status") == "failed" else name
    return name  # transfer.success/failed/reversed, refund.<status> already normalised


def _refund(data: dict[str, Any], amount: int | None, currency: str) -> RefundResult:
    return RefundResult(
        id=str(data.get("id") or ""),
        status=str(data.get("status") or "pending"),
        amount=int(data.get("amount") or amount or 0),
        currency=str(data.get("currency") or currency),
        merchant_note=_text(data.get("merchant_note")),
    )


def _split_shares(split: Any) -> dict[str, int] | None:
    """``split.shares.subaccounts`` as code → amount; None for a payment that was not split."""
    shares = split.get("shares") if isinstance(split, dict) else None
    entries = shares.get("subaccounts") if isinstance(shares, dict) else None
    if not isinstance(entries, list) or not entries:
        return None
    found: dict[str, int] = {}
    for entry in entries:
        if isinstance(entry, dict) and (amount := _int_or_none(entry.get("amount"))) is not None:
            code = str(entry.get("subaccount_code") or "")
            found[code] = found.get(code, 0) + amount
    return found


def _subaccount(data: dict[str, Any]) -> Subaccount:
    charge = data.get("percentage_charge")
    return Subaccount(
        code=str(data["subaccount_code"]),
        provider_id=str(data.get("id") or ""),
        business_name=str(data.get("business_name") or ""),
        account_number=str(data.get("account_number") or ""),
        bank=str(data.get("settlement_bank") or ""),
        commission_percent=None if charge is None else Decimal(str(charge)),
        active=bool(data.get("active", True)),
    )


def _transfer(data: dict[str, Any]) -> TransferResult:
    raw = str(data.get("status") or "pending")
    return TransferResult(
        reference=str(data.get("reference") or ""),
        status=_TRANSFER_STATUS.get(raw, "pending"),
        amount=int(data.get("amount") or 0),
        currency=str(data.get("currency") or "NGN"),
        transfer_code=_text(data.get("transfer_code")),
        provider_status=raw,
        fee=_int_or_none(data.get("fee_charged")),
        message=_text(data.get("gateway_response") or data.get("reason")),
    )


def _dispute(data: dict[str, Any]) -> Dispute:
    transaction = data.get("transaction") if isinstance(data.get("transaction"), dict) else {}
    assert isinstance(transaction, dict)
    due = data.get("dueAt")
    return Dispute(
        id=str(data["id"]),
        status=str(data.get("status") or ""),
        resolution=_text(data.get("resolution")),
        refund_amount=int(data.get("refund_amount") or 0),
        currency=str(data.get("currency") or ""),
        transaction_reference=_text(
            data.get("transaction_reference") or transaction.get("reference")
        ),
        due_at=_parse_time(due) if isinstance(due, str) else None,
    )


def _int_or_none(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)[:500]


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
