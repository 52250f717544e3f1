"""A Flutterwave v3 fake shaped after https://developer.flutterwave.com/v3.0.0/docs/ and the facts
in ``marketplace-apis.md`` §2 and §8. Amounts on the wire are **major units** (``"100.50"``).

API routes (``Authorization: Bearer <secret>`` or 401 ``{"status": "error", "message": "Invalid
authorization key", "data": null}``), every answer ``{"status": "success"|"error", "message",
"data"}``: ``POST /v3/payments`` (Standard: a hosted ``link``),
``GET /v3/transactions/{id}/verify``, ``GET /v3/transactions/verify_by_reference?tx_ref=``,
``POST /v3/transactions/{id}/refund``, ``POST/GET /v3/subaccounts``, ``GET/PUT
/v3/subaccounts/{id}``, ``POST /v3/transfers``, ``POST /v3/bulk-transfers``, ``GET /v3/transfers``
(``?reference=``), ``GET /v3/transfers/{id}``, ``GET /v3/banks/{country}``,
``POST /v3/accounts/resolve``.

The hosted page ``/v3/hosted/pay/{token}`` has "pay" and "fail" buttons; each settles the
transaction and sends ``charge.completed`` to ``webhook_url`` with ``verif-hash`` = the secret hash
(:attr:`FlutterwaveFake.signature_mode` ``v4-hash`` / ``v4-hmac`` sends ``flutterwave-signature``
instead). Retries are off, as on a dashboard nobody toggled: one delivery per event.

Failure modes: duplicate ``tx_ref`` / transfer reference, insufficient balance (a transfer created
``FAILED``), test-mode transfer suffixes ``_PMCK`` (succeeds) and ``_PMCK_ST_F`` (fails), the
blacklisted account 0690000036, 429 with ``Retry-After`` (:meth:`rate_limit_next`), amount /
currency misreported on verify (:meth:`misreport_next_verify`), a verify that answers 200 with
``status: failed``, late / duplicate / out-of-order webhooks (:attr:`webhooks`), 500s (``fail_next``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import itertools
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from oja.sandbox.base import SecretKeyApi, fake_app, json_object
from oja.sandbox.webhooks import WebhookSender

DEFAULT_SECRET_KEY = "FLWSECK_TEST-oja-sandbox-flutterwave-X"  # noqa: S105 (public test value)
DEFAULT_SECRET_HASH = "oja-sandbox-flutterwave-hash"  # noqa: S105 (public test value)
BLACKLISTED_ACCOUNT = "0690000036"
DEFAULT_BALANCE = Decimal("10000000")
BANKS = (
    ("044", "Access Bank"),
    ("011", "First Bank of Nigeria"),
    ("058", "GTBank Plc"),
    ("033", "United Bank for Africa"),
    ("057", "Zenith Bank"),
)
BANK_NAMES = dict(BANKS)
SignatureMode = Literal["v3", "v4-hash", "v4-hmac"]


def hmac_signature(secret_hash: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret_hash.encode(), body, hashlib.sha256).digest()).decode()


def transfer_fee(amount: Decimal) -> Decimal:
    """₦10.75 up to ₦5,000, ₦26.88 up to ₦50,000, ₦53.75 above (VAT included)."""
    return (
        Decimal("10.75")
        if amount <= 5000
        else Decimal("26.88")
        if amount <= 50000
        else Decimal("53.75")
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _number(value: Decimal) -> int | float:
    """A major-unit figure as JSON writes it (``7500``, ``100.5``); repr round-trips exactly."""
    return int(value) if value == value.to_integral_value() else float(value)


def _amount(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount > 0 else None


@dataclass
class Charge:
    id: int
    tx_ref: str
    token: str
    amount: Decimal
    currency: str
    email: str
    redirect_url: str
    meta: dict[str, Any]
    subaccounts: list[dict[str, Any]]
    status: str = "pending"
    refunded: Decimal = Decimal(0)
    created_at: str = field(default_factory=_now)

    @property
    def flw_ref(self) -> str:
        return f"FLW-MOCK-{self.id}"


@dataclass
class TransferRecord:
    id: int
    reference: str
    account_bank: str
    account_number: str
    amount: Decimal
    currency: str
    narration: str
    fee: Decimal
    status: str = "NEW"
    complete_message: str = ""
    created_at: str = field(default_factory=_now)


class FlutterwaveFake(SecretKeyApi):
    def __init__(
        self,
        *,
        secret_key: str = DEFAULT_SECRET_KEY,
        secret_hash: str = DEFAULT_SECRET_HASH,
        webhook_url: str | None = None,
    ) -> None:
        super().__init__(secret_key)
        self.secret_hash = secret_hash
        self.signature_mode: SignatureMode = "v3"
        self.webhooks = WebhookSender(webhook_url, self._sign)
        self.charges: dict[int, Charge] = {}
        self.transfers: dict[int, TransferRecord] = {}
        self.subaccounts: dict[int, dict[str, Any]] = {}
        self.refunds: list[dict[str, Any]] = []
        self.balance: dict[str, Decimal] = {"NGN": DEFAULT_BALANCE}
        self.accounts: dict[tuple[str, str], str] = {}
        self._ids = itertools.count(7_000_001)
        self._misreport: list[dict[str, Any]] = []
        self._rate_limits: list[int] = []
        self.app = self._build_app()

    def _sign(self, body: bytes) -> dict[str, str]:
        if self.signature_mode == "v4-hash":
            return {"flutterwave-signature": self.secret_hash}
        if self.signature_mode == "v4-hmac":
            return {"flutterwave-signature": hmac_signature(self.secret_hash, body)}
        return {"verif-hash": self.secret_hash}

    @property
    def webhook_url(self) -> str | None:
        return self.webhooks.url

    @webhook_url.setter
    def webhook_url(self, url: str | None) -> None:
        self.webhooks.url = url

    @property
    def deliveries(self) -> list[tuple[str, int | None]]:
        return self.webhooks.deliveries

    # Knobs

    def misreport_next_verify(self, **fields: Any) -> None:
        """The next verification reports these fields (``amount=...``, ``currency=...``) instead."""
        self._misreport.append(fields)

    def rate_limit_next(self, times: int = 1, retry_after: int = 60) -> None:
        self._rate_limits.extend([retry_after] * times)

    # Test helpers

    def by_reference(self, tx_ref: str) -> Charge:
        return next(c for c in self.charges.values() if c.tx_ref == tx_ref)

    def settle(self, tx_ref: str, outcome: str) -> Charge:
        """``successful`` or ``failed``, without a browser; a successful charge is final."""
        with self._lock:
            charge = self.by_reference(tx_ref)
            if charge.status != "successful":
                charge.status = outcome
                if outcome == "successful":
                    self.balance[charge.currency] = (
                        self.balance.get(charge.currency, Decimal(0)) + charge.amount
                    )
            return charge

    def webhook_body(self, charge: Charge) -> bytes:
        return json.dumps({"event": "charge.completed", "data": self._charge(charge)}).encode()

    async def deliver(self, charge: Charge) -> int | None:
        return await self.webhooks.send("charge.completed", self.webhook_body(charge))

    async def settle_transfer(self, transfer_id: int, outcome: str) -> int | None:
        """Finish a pending transfer (``SUCCESSFUL``/``FAILED``) and send ``transfer.completed``."""
        with self._lock:
            record = self.transfers[transfer_id]
            record.status = outcome
            if outcome == "FAILED":
                self.balance[record.currency] += record.amount + record.fee
                record.complete_message = "DISBURSE FAILED: Transfer failed"
            else:
                record.complete_message = "Transaction was successful"
        body = json.dumps({"event": "transfer.completed", "data": self._transfer(record)})
        return await self.webhooks.send("transfer.completed", body.encode())

    # Wire format

    def _charge(self, c: Charge) -> dict[str, Any]:
        fee = (c.amount * Decimal("0.014")).quantize(Decimal("0.01"))
        return {
            "id": c.id,
            "tx_ref": c.tx_ref,
            "flw_ref": c.flw_ref,
            "device_fingerprint": "sandbox",
            "amount": _number(c.amount),
            "currency": c.currency,
            "charged_amount": _number(c.amount),
            "app_fee": _number(fee),
            "merchant_fee": 0,
            "amount_settled": _number(c.amount - fee),
            "processor_response": "Approved by Financial Institution"
            if c.status == "successful"
            else "Declined"
            if c.status == "failed"
            else "Pending",
            "auth_model": "PIN",
            "ip": "127.0.0.1",
            "narration": "Sandbox checkout",
            "status": c.status,
            "payment_type": "card",
            "created_at": c.created_at,
            "account_id": 1,
            "meta": c.meta,
            "customer": {"id": 1, "name": "Sandbox Payer", "email": c.email},
            "card": {
                "first_6digits": "553188",
                "last_4digits": "2950",
                "issuer": "MASTERCARD",
                "country": "NG",
                "type": "MASTERCARD",
                "token": "flw-t1nf-sandbox",
                "expiry": "09/32",
            }
            if c.status == "successful"
            else None,
        }

    def _transfer(self, t: TransferRecord) -> dict[str, Any]:
        return {
            "id": t.id,
            "account_number": t.account_number,
            "bank_code": t.account_bank,
            "full_name": self._resolved_name(t.account_bank, t.account_number) or "",
            "bank_name": BANK_NAMES.get(t.account_bank, ""),
            "currency": t.currency,
            "debit_currency": t.currency,
            "amount": _number(t.amount),
            "fee": _number(t.fee),
            "status": t.status,
            "reference": t.reference,
            "narration": t.narration,
            "complete_message": t.complete_message,
            "requires_approval": 0,
            "is_approved": 1,
            "meta": None,
            "created_at": t.created_at,
        }

    def _resolved_name(self, bank: str, number: str) -> str | None:
        if bank not in BANK_NAMES or len(number) != 10 or not number.isdigit():
            return None
        if number.startswith("000"):
            return None
        return self.accounts.get((bank, number), f"SANDBOX ACCOUNT {number[-4:]}")

    def _create_transfer(self, item: dict[str, Any]) -> TransferRecord | str:
        """A transfer (under the lock) or the refusal message."""
        amount = _amount(item.get("amount"))
        if amount is None:
            return "Invalid amount"
        bank = str(item.get("account_bank") or item.get("bank_code") or "")
        number = str(item.get("account_number") or "")
        if number == BLACKLISTED_ACCOUNT:
            return "Payout was made to a blacklisted account number"
        if self._resolved_name(bank, number) is None:
            return "Account could not be resolved"
        reference = str(item.get("reference") or f"flw_{next(self._ids)}")
        if any(t.reference == reference for t in self.transfers.values()):
            return "Duplicate reference"
        currency = str(item.get("currency") or "NGN")
        fee = transfer_fee(amount)
        record = TransferRecord(
            id=next(self._ids),
            reference=reference,
            account_bank=bank,
            account_number=number,
            amount=amount,
            currency=currency,
            narration=str(item.get("narration") or ""),
            fee=fee,
        )
        if self.balance.get(currency, Decimal(0)) < amount + fee:
            record.status = "FAILED"
            record.complete_message = "DISBURSE FAILED: Insufficient funds in customer balance"
        else:
            self.balance[currency] -= amount + fee
            if reference.endswith("_PMCK_ST_F"):
                record.status = "FAILED"
                record.complete_message = "DISBURSE FAILED: Transfer failed"
                self.balance[currency] += amount + fee
            elif reference.endswith("_PMCK"):
                record.status = "SUCCESSFUL"
                record.complete_message = "Transaction was successful"
        self.transfers[record.id] = record
        return record

    def _build_app(self) -> FastAPI:
        app = fake_app("Flutterwave")
        fake = self

        def ok(data: Any, message: str) -> JSONResponse:
            return JSONResponse({"status": "success", "message": message, "data": data})

        def refuse(status: int, message: str) -> JSONResponse:
            return JSONResponse(
                {"status": "error", "message": message, "data": None}, status_code=status
            )

        def gate(request: Request, name: str) -> JSONResponse | None:
            match fake._admit(request, name):
                case 401:
                    return refuse(401, "Invalid authorization key")
                case 500:
                    return refuse(500, "Internal server error")
            with fake._lock:
                wait = fake._rate_limits.pop(0) if fake._rate_limits else None
            if wait is not None:
                return JSONResponse(
                    {"status": "error", "message": "Too many requests", "data": None},
                    status_code=429,
                    headers={"Retry-After": str(wait)},
                )
            return None

        async def read(request: Request, name: str) -> dict[str, Any] | JSONResponse:
            if (denied := gate(request, name)) is not None:
                return denied
            body = await json_object(request)
            return refuse(400, "Invalid JSON body") if body is None else body

        def verified(charge: Charge) -> JSONResponse:
            data = fake._charge(charge)
            if fake._misreport:
                data.update(fake._misreport.pop(0))
            return ok(data, "Transaction fetched successfully")

        @app.post("/v3/payments")
        async def payments(request: Request) -> Response:
            body = await read(request, "payments")
            if isinstance(body, JSONResponse):
                return body
            amount = _amount(body.get("amount"))
            customer = body.get("customer") if isinstance(body.get("customer"), dict) else {}
            assert isinstance(customer, dict)
            tx_ref, redirect = body.get("tx_ref"), body.get("redirect_url")
            if not tx_ref or amount is None or not customer.get("email") or not redirect:
                return refuse(400, "tx_ref, amount, redirect_url and customer.email are required")
            with fake._lock:
                if any(c.tx_ref == tx_ref for c in fake.charges.values()):
                    return refuse(400, "A transaction with this tx_ref already exists")
                charge = Charge(
                    id=next(fake._ids),
                    tx_ref=str(tx_ref),
                    token=secrets.token_hex(8),
                    amount=amount,
                    currency=str(body.get("currency") or "NGN"),
                    email=str(customer["email"]),
                    redirect_url=str(redirect),
                    meta=body.get("meta") or {},
                    subaccounts=list(body.get("subaccounts") or []),
                )
                fake.charges[charge.id] = charge
            base = str(request.base_url).rstrip("/")
            return ok({"link": f"{base}/v3/hosted/pay/{charge.token}"}, "Hosted Link")

        @app.get("/v3/transactions/verify_by_reference")
        async def verify_by_reference(request: Request) -> Response:
            if (denied := gate(request, "verify_by_reference")) is not None:
                return denied
            tx_ref = request.query_params.get("tx_ref", "")
            charge = next((c for c in fake.charges.values() if c.tx_ref == tx_ref), None)
            if charge is None:
                return refuse(400, "No transaction was found for this id")
            return verified(charge)

        @app.get("/v3/transactions/{transaction_id}/verify")
        async def verify(transaction_id: str, request: Request) -> Response:
            if (denied := gate(request, "verify")) is not None:
                return denied
            charge = fake.charges.get(int(transaction_id)) if transaction_id.isdigit() else None
            if charge is None:
                return refuse(400, "No transaction was found for this id")
            return verified(charge)

        @app.post("/v3/transactions/{transaction_id}/refund")
        async def refund(transaction_id: str, request: Request) -> Response:
            body = await read(request, "refund")
            if isinstance(body, JSONResponse):
                return body
            charge = fake.charges.get(int(transaction_id)) if transaction_id.isdigit() else None
            if charge is None:
                return refuse(400, "No transaction was found for this id")
            amount = _amount(body.get("amount"))
            if charge.status != "successful":
                return refuse(400, "Only successful transactions can be refunded")
            if amount is None or amount > charge.amount - charge.refunded:
                return refuse(400, "Refund amount cannot exceed the amount left on the transaction")
            with fake._lock:
                charge.refunded += amount
                record = {
                    "id": next(fake._ids),
                    "account_id": 1,
                    "tx_id": charge.id,
                    "flw_ref": f"URF_{secrets.token_hex(6)}",
                    "wallet_id": 1,
                    "amount_refunded": _number(amount),
                    "status": "completed",
                    "destination": "payment_source",
                    "meta": {"source": "availablebalance"},
                    "created_at": _now(),
                }
                fake.refunds.append(record)
            return ok(record, "Transaction refund initiated")

        # Subaccounts

        @app.post("/v3/subaccounts")
        async def create_subaccount(request: Request) -> Response:
            body = await read(request, "subaccounts.create")
            if isinstance(body, JSONResponse):
                return body
            bank, number = (
                str(body.get("account_bank") or ""),
                str(body.get("account_number") or ""),
            )
            name = fake._resolved_name(bank, number)
            if not body.get("business_name") or name is None:
                return refuse(400, "A valid account and business_name are required")
            split_type = str(body.get("split_type") or "percentage")
            # Validated per type, not with the SDK's 0–1 cap (C8): flat values are naira.
            value = _amount(body.get("split_value")) or Decimal(0)
            if split_type == "percentage" and value > 1:
                return refuse(400, "split_value for a percentage split must be between 0 and 1")
            with fake._lock:
                number_id = next(fake._ids)
                record = {
                    "id": number_id,
                    "account_number": number,
                    "account_bank": bank,
                    "business_name": str(body["business_name"]),
                    "full_name": name,
                    "created_at": _now(),
                    "meta": body.get("meta") or [],
                    "account_id": number_id,
                    "split_ratio": 1,
                    "split_type": split_type,
                    "split_value": _number(value),
                    "subaccount_id": f"RS_{secrets.token_hex(12).upper()}",
                    "bank_name": BANK_NAMES[bank],
                    "country": str(body.get("country") or "NG"),
                }
                fake.subaccounts[number_id] = record
            return ok(record, "Subaccount created")

        @app.get("/v3/subaccounts")
        async def list_subaccounts(request: Request) -> Response:
            if (denied := gate(request, "subaccounts.list")) is not None:
                return denied
            return ok(list(fake.subaccounts.values()), "Subaccounts fetched")

        def find_subaccount(key: str) -> dict[str, Any] | None:
            if key.isdigit() and int(key) in fake.subaccounts:
                return fake.subaccounts[int(key)]
            return next((s for s in fake.subaccounts.values() if s["subaccount_id"] == key), None)

        @app.get("/v3/subaccounts/{key}")
        async def fetch_subaccount(key: str, request: Request) -> Response:
            if (denied := gate(request, "subaccounts.fetch")) is not None:
                return denied
            record = find_subaccount(key)
            if record is None:
                return refuse(404, "Subaccount not found")
            return ok(record, "Subaccount fetched")

        @app.put("/v3/subaccounts/{key}")
        async def update_subaccount(key: str, request: Request) -> Response:
            body = await read(request, "subaccounts.update")
            if isinstance(body, JSONResponse):
                return body
            record = find_subaccount(key)
            if record is None:
                return refuse(404, "Subaccount not found")
            with fake._lock:
                for name in ("business_name", "account_bank", "account_number", "split_type"):
                    if name in body:
                        record[name] = str(body[name])
                if "split_value" in body:
                    record["split_value"] = _number(_amount(body["split_value"]) or Decimal(0))
            return ok(record, "Subaccount updated")

        # Banks and transfers

        @app.get("/v3/banks/{country}")
        async def banks(country: str, request: Request) -> Response:
            if (denied := gate(request, "banks")) is not None:
                return denied
            listed = BANKS if country.upper() == "NG" else ()
            return ok(
                [
                    {"id": i + 1, "code": code, "name": name}
                    for i, (code, name) in enumerate(listed)
                ],
                "Banks fetched successfully",
            )

        @app.post("/v3/accounts/resolve")
        async def resolve(request: Request) -> Response:
            body = await read(request, "accounts.resolve")
            if isinstance(body, JSONResponse):
                return body
            number = str(body.get("account_number") or "")
            name = fake._resolved_name(str(body.get("account_bank") or ""), number)
            if name is None:
                return refuse(
                    400, "Sorry, that account number is invalid, please check and try again"
                )
            return ok({"account_number": number, "account_name": name}, "Account details fetched")

        @app.post("/v3/transfers")
        async def transfer(request: Request) -> Response:
            body = await read(request, "transfers")
            if isinstance(body, JSONResponse):
                return body
            with fake._lock:
                record = fake._create_transfer(body)
            if isinstance(record, str):
                return refuse(400, record)
            return ok(fake._transfer(record), "Transfer Queued Successfully")

        @app.post("/v3/bulk-transfers")
        async def bulk(request: Request) -> Response:
            body = await read(request, "bulk-transfers")
            if isinstance(body, JSONResponse):
                return body
            items = body.get("bulk_data")
            if not isinstance(items, list) or not items:
                return refuse(400, "bulk_data is required")
            with fake._lock:
                for item in items:
                    if isinstance(item, dict):
                        fake._create_transfer(item)
                batch = next(fake._ids)
            return ok(
                {"id": batch, "created_at": _now(), "approver": "N/A"}, "Bulk transfer queued"
            )

        @app.get("/v3/transfers")
        async def list_transfers(request: Request) -> Response:
            if (denied := gate(request, "transfers.list")) is not None:
                return denied
            wanted = request.query_params.get("reference")
            found = [
                fake._transfer(t)
                for t in fake.transfers.values()
                if wanted is None or t.reference == wanted
            ]
            return ok(found, "Transfers fetched")

        @app.get("/v3/transfers/{transfer_id}")
        async def fetch_transfer(transfer_id: str, request: Request) -> Response:
            if (denied := gate(request, "transfers.fetch")) is not None:
                return denied
            record = fake.transfers.get(int(transfer_id)) if transfer_id.isdigit() else None
            if record is None:
                return refuse(404, "Transfer not found")
            return ok(fake._transfer(record), "Transfer fetched")

        # Hosted checkout

        def by_token(token: str) -> Charge | None:
            return next((c for c in fake.charges.values() if c.token == token), None)

        @app.get("/v3/hosted/pay/{token}", response_class=HTMLResponse)
        async def checkout(token: str) -> Response:
            charge = by_token(token)
            if charge is None:
                return HTMLResponse("<h1>Unknown checkout</h1>", status_code=404)
            return HTMLResponse(
                "<!doctype html><html><body><h1>Sandbox Flutterwave checkout</h1>"
                f"<p>{html.escape(charge.email)} pays {html.escape(charge.currency)} "
                f"{html.escape(str(charge.amount))} (tx_ref {html.escape(charge.tx_ref)}).</p>"
                f"<form method='post' action='/v3/hosted/pay/{token}/pay'><button>Pay</button></form>"
                f"<form method='post' action='/v3/hosted/pay/{token}/fail'><button>Fail</button></form>"
                "</body></html>"
            )

        async def settle_and_notify(token: str, outcome: str, request: Request) -> Response:
            charge = by_token(token)
            if charge is None:
                return refuse(404, "Unknown checkout")
            charge = fake.settle(charge.tx_ref, outcome)
            delivered = await fake.deliver(charge)
            if "application/json" in request.headers.get("accept", ""):
                return JSONResponse(
                    {
                        "tx_ref": charge.tx_ref,
                        "transaction_id": charge.id,
                        "status": charge.status,
                        "webhook_status": delivered,
                    }
                )
            back = (
                f"{charge.redirect_url}?status={charge.status}&tx_ref={charge.tx_ref}"
                f"&transaction_id={charge.id}"
            )
            return HTMLResponse(
                f"<p>Payment {html.escape(charge.status)}. Webhook answered {delivered}.</p>"
                f"<a href='{html.escape(back)}'>Back</a>"
            )

        @app.post("/v3/hosted/pay/{token}/pay")
        async def pay(token: str, request: Request) -> Response:
            return await settle_and_notify(token, "successful", request)

        @app.post("/v3/hosted/pay/{token}/fail")
        async def fail(token: str, request: Request) -> Response:
            return await settle_and_notify(token, "failed", request)

        return app
