"""A Paystack fake shaped after https://paystack.com/docs/api/ and the facts in
``marketplace-apis.md`` §1 and §8.

API routes (``Authorization: Bearer <secret>`` or 401 ``{"status": false, "message": "Invalid key"}``),
every answer ``{"status", "message", "data"}``:
transactions (``POST /transaction/initialize`` with ``split_code`` / ``subaccount``,
``GET /transaction/verify/{reference}``, ``POST /transaction/charge_authorization``), subaccounts
(``POST/GET /subaccount``, ``GET/PUT /subaccount/{code}``), splits (``POST/GET /split``,
``GET/PUT /split/{id}``, ``POST /split/{id}/subaccount/add|remove``), ``GET /bank``,
``GET /bank/resolve``, ``POST /transferrecipient``, transfers (``POST /transfer``,
``POST /transfer/finalize_transfer``, ``POST /transfer/resend_otp``, ``POST /transfer/bulk``,
``GET /transfer/verify/{reference}``),
refunds (``POST/GET /refund``, ``GET /refund/{id}``, ``POST /refund/retry_with_customer_details/{id}``),
disputes (``GET /dispute``, ``GET /dispute/{id}``, ``POST /dispute/{id}/evidence``,
``PUT /dispute/{id}/resolve``).

The checkout page ``/checkout/{access_code}`` has "pay" and "fail" buttons; each settles the
transaction and sends a signed webhook (HMAC-SHA512 of the body under the secret key in
``x-paystack-signature``) to ``webhook_url``. Like Paystack, an initialised transaction nobody paid
verifies as ``abandoned``, a failed one verifies ``failed`` with HTTP 200, a split transaction's
``charge.success`` carries ``split.shares``, and transfers debit amount + fee from :attr:`balance`.

Failure modes: duplicate transaction / transfer reference, insufficient balance, OTP required
(:attr:`PaystackFake.otp_required`; the OTP is :data:`SANDBOX_OTP`), bulk refused while OTP is on,
429 ``rate_limited`` with ``Retry-After`` (:meth:`rate_limit_next`), ``needs-attention`` refunds
(:meth:`refund_needs_attention_next`), late / duplicate / out-of-order webhooks (:attr:`webhooks`,
a :class:`~oja.sandbox.webhooks.WebhookSender`), misreported verification, 500s (``fail_next``).
Accounts: any 10-digit number resolves (to :attr:`accounts` or ``SANDBOX ACCOUNT <last 4>``) except
those starting ``000``.
"""

from __future__ import annotations

import itertools
import json
import secrets
from typing import Any

from fastapi import FastAPI

from oja.sandbox.base import SecretKeyApi
from oja.sandbox.paystack_plans import PaystackPlans, register
from oja.sandbox.paystack_records import (
    BANK_NAMES,
    BANKS,
    DEFAULT_BALANCE,
    DEFAULT_SECRET_KEY,
    RATE_LIMITED_BODY,
    SANDBOX_OTP,
    SUPPORTED_CURRENCIES,
    DisputeRecord,
    RefundRecord,
    SplitRecord,
    SubaccountRecord,
    Transaction,
    TransferRecord,
    sign,
    timestamp,
    transfer_fee,
)
from oja.sandbox.paystack_routes import build_app
from oja.sandbox.webhooks import WebhookSender

__all__ = [
    "BANKS",
    "BANK_NAMES",
    "DEFAULT_BALANCE",
    "DEFAULT_SECRET_KEY",
    "RATE_LIMITED_BODY",
    "SANDBOX_OTP",
    "SUPPORTED_CURRENCIES",
    "PaystackFake",
    "Transaction",
    "sign",
    "transfer_fee",
]


class PaystackFake(SecretKeyApi):
    def __init__(
        self,
        *,
        secret_key: str = DEFAULT_SECRET_KEY,
        webhook_url: str | None = None,
        otp_required: bool = False,
    ) -> None:
        super().__init__(secret_key)
        self.webhooks = WebhookSender(
            webhook_url, lambda body: {"x-paystack-signature": sign(self.secret_key, body)}
        )
        self.transactions: dict[str, Transaction] = {}
        self.refunds: list[RefundRecord] = []
        self.subaccounts: dict[str, SubaccountRecord] = {}
        self.splits: dict[str, SplitRecord] = {}
        self.subaccount_balances: dict[str, int] = {}
        """What split payments settled to each subaccount (code → minor units): its own books."""
        self.recipients: dict[str, dict[str, Any]] = {}
        self.transfers: dict[str, TransferRecord] = {}
        self.disputes: dict[int, DisputeRecord] = {}
        self.accounts: dict[tuple[str, str], str] = {}
        """``(bank code, account number)`` → the name ``/bank/resolve`` answers."""
        self.balance: dict[str, int] = {"NGN": DEFAULT_BALANCE}
        self.otp_required = otp_required
        """OTP mode: transfers answer ``otp`` until finalized with :data:`SANDBOX_OTP` (a wrong OTP
        answers 400 "Invalid OTP"); bulk transfers are refused."""
        self.transfer_outcome = "success"
        """What a queued transfer becomes (test mode: ``success``; ``failed``/``reversed`` to test)."""
        self._ids = itertools.count(4_099_260_516)
        self._refuse_initialize: str | None = None
        self._misreport: list[int] = []
        self._rate_limits: list[int] = []
        self._needs_attention = 0
        self.subscriptions = PaystackPlans(self)
        """Plans and subscriptions (:mod:`oja.sandbox.paystack_plans`)."""
        self.app = self._build_app()

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

    def refuse_next_initialize(self, message: str = "Invalid Amount Sent") -> None:
        """The next initialize answers 400 ``{"status": false, "message": message}``."""
        self._refuse_initialize = message

    def misreport_next_verify(self, amount: int, times: int = 1) -> None:
        """The next ``times`` verifications report ``amount`` instead of the real one."""
        self._misreport.extend([amount] * times)

    def rate_limit_next(self, times: int = 1, retry_after: int = 60) -> None:
        """The next ``times`` API calls answer 429 ``rate_limited`` with ``Retry-After``."""
        self._rate_limits.extend([retry_after] * times)

    def refund_needs_attention_next(self) -> None:
        """The next refund is created in ``needs-attention`` (customer bank details required)."""
        self._needs_attention += 1

    # Test helpers

    def webhook_body(self, event: str, transaction: Transaction) -> bytes:
        return json.dumps({"event": event, "data": self._charge(transaction)}).encode()

    def settle(self, reference: str, outcome: str) -> Transaction:
        """Mark a transaction paid (``success``) or declined (``failed``) without a browser."""
        with self._lock:
            tx = self.transactions[reference]
            if outcome == "success" and tx.status != "success":
                tx.status, tx.gateway_response, tx.paid_at = "success", "Successful", timestamp()
                # A split pays its subaccounts their allocation; the main balance keeps the rest.
                paid_out = 0
                for share in (self._split_of(tx).get("shares") or {}).get("subaccounts", []):
                    code = share["subaccount_code"]
                    self.subaccount_balances[code] = (
                        self.subaccount_balances.get(code, 0) + share["amount"]
                    )
                    paid_out += share["amount"]
                self.balance[tx.currency] = self.balance.get(tx.currency, 0) + tx.amount - paid_out
            elif outcome == "failed" and tx.status != "success":
                tx.status, tx.gateway_response = "failed", "Declined"
            return tx

    async def deliver(self, event: str, transaction: Transaction) -> int | None:
        status = await self.webhooks.send(event, self.webhook_body(event, transaction))
        if event == "charge.success":
            await self.subscriptions.on_charge(transaction)
        return status

    async def send_event(self, event: str, data: dict[str, Any]) -> int | None:
        return await self.webhooks.send(event, json.dumps({"event": event, "data": data}).encode())

    async def settle_refund(self, refund_id: int, status: str) -> int | None:
        """Move a refund to ``status`` (``processing``/``processed``/``failed``) and announce it."""
        return await self.send_event(f"refund.{status}", self._settled_refund(refund_id, status))

    def finish_refund(self, refund_id: int, status: str = "processed") -> bytes:
        """Settle a refund like :meth:`settle_refund` without sending anything: the body of the
        ``refund.<status>`` webhook Paystack would send (for a test to deliver, replay or lose)."""
        data = self._settled_refund(refund_id, status)
        return json.dumps({"event": f"refund.{status}", "data": data}).encode()

    def _settled_refund(self, refund_id: int, status: str) -> dict[str, Any]:
        with self._lock:
            record = next(r for r in self.refunds if r.id == refund_id)
            if status == "processed":
                record.transaction.status = (
                    "reversed"
                    if record.transaction.refunded >= record.transaction.amount
                    else record.transaction.status
                )
            elif status == "failed" and record.status != "failed":
                record.transaction.refunded -= record.amount
            record.status = status
        return self._refund_event(record)

    async def open_dispute(self, reference: str, refund_amount: int | None = None) -> DisputeRecord:
        """A chargeback on a paid transaction; sends ``charge.dispute.create``."""
        with self._lock:
            tx = self.transactions[reference]
            dispute = DisputeRecord(next(self._ids), tx, refund_amount or tx.amount)
            self.disputes[dispute.id] = dispute
        await self.send_event("charge.dispute.create", self._dispute(dispute))
        return dispute

    async def remind_dispute(self, dispute_id: int) -> int | None:
        return await self.send_event(
            "charge.dispute.remind", self._dispute(self.disputes[dispute_id])
        )

    # Wire format

    def _charge(self, tx: Transaction) -> dict[str, Any]:
        data: dict[str, Any] = {
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
            "fees": self._fees(tx) if tx.status == "success" else None,
            "customer": {"id": 1, "email": tx.email, "customer_code": "CUS_sandbox"},
            "authorization": {
                "authorization_code": "AUTH_sandbox",
                "bin": "408408",
                "last4": "4081",
                "exp_month": "12",
                "exp_year": "2030",
                "card_type": "visa",
                "brand": "visa",
                "reusable": True,
                "signature": "SIG_sandbox",
            }
            if tx.status == "success"
            else {},
            "split": self._split_of(tx),
            "plan": self.subscriptions.charge_plan(tx),
            "subaccount": self.subaccounts[tx.subaccount].as_json()
            if tx.subaccount in self.subaccounts
            else {},
        }
        return data

    @staticmethod
    def _fees(tx: Transaction) -> int:
        return min(tx.amount * 15 // 1000 + (10_000 if tx.amount >= 250_000 else 0), 200_000)

    def _split_of(self, tx: Transaction) -> dict[str, Any]:
        """``split`` with ``shares`` (actual minor-unit allocation) for a split transaction."""
        split = self.splits.get(tx.split_code or "")
        if split is None:
            return {}
        fee = self._fees(tx) if tx.status == "success" else 0
        allocations: list[dict[str, Any]] = [
            {
                "amount": tx.amount * share // 100 if split.type == "percentage" else share,
                "subaccount_code": code,
                "id": code,
            }
            for code, share in split.shares.items()
        ]
        main = tx.amount - sum(a["amount"] for a in allocations)
        # Who bears Paystack's fee: the main account, one subaccount, everyone equally, or everyone
        # in proportion to their share; the main account absorbs any remainder kobo.
        parts = [0] * len(allocations)
        if split.bearer_type == "subaccount" and allocations:
            codes = [a["subaccount_code"] for a in allocations]
            index = codes.index(split.bearer_subaccount) if split.bearer_subaccount in codes else 0
            parts[index] = fee
        elif split.bearer_type == "all":
            parts = [fee // (len(allocations) + 1)] * len(allocations)
        elif split.bearer_type == "all-proportional":
            parts = [fee * a["amount"] // tx.amount for a in allocations]
        for allocation, part in zip(allocations, parts, strict=True):
            allocation["amount"] -= part
        main -= fee - sum(parts)
        return {
            "id": split.id,
            "name": split.name,
            "split_code": split.code,
            "is_dynamic": split.dynamic,
            "formula": {
                "type": split.type,
                "subaccounts": [
                    {"share": s, "subaccount_code": c, "id": c} for c, s in split.shares.items()
                ],
                "integration": 100,
            },
            "shares": {"paystack": fee, "subaccounts": allocations, "integration": main},
        }

    def _split_json(self, split: SplitRecord) -> dict[str, Any]:
        return {
            "id": split.id,
            "split_code": split.code,
            "name": split.name,
            "type": split.type,
            "currency": split.currency,
            "active": split.active,
            "bearer_type": split.bearer_type,
            "bearer_subaccount": split.bearer_subaccount,
            "is_dynamic": False,
            "domain": "test",
            "subaccounts": [
                {
                    "subaccount": self.subaccounts[c].as_json()
                    if c in self.subaccounts
                    else {"subaccount_code": c},
                    "share": s,
                }
                for c, s in split.shares.items()
            ],
            "total_subaccounts": len(split.shares),
        }

    def _transfer(self, t: TransferRecord) -> dict[str, Any]:
        recipient = self.recipients.get(t.recipient, {})
        return {
            "id": t.id,
            "transfer_code": t.code,
            "reference": t.reference,
            "status": t.status,
            "amount": t.amount,
            "currency": t.currency,
            "source": "balance",
            "reason": t.reason,
            "recipient": recipient,
            "fee_charged": t.fee,
            "gateway_response": None,
            "transferred_at": t.created_at if t.status == "success" else None,
            "createdAt": t.created_at,
            "session": {"provider": "nip", "id": f"0900000{t.id}"},
        }

    def _refund(self, r: RefundRecord) -> dict[str, Any]:
        return {
            "id": r.id,
            "transaction": self._charge(r.transaction),
            "integration": 1,
            "deducted_amount": r.amount,
            "channel": None,
            "merchant_note": r.merchant_note,
            "customer_note": None,
            "status": r.status,
            "refunded_by": "sandbox@oja.test",
            "expected_at": timestamp(),
            "currency": r.transaction.currency,
            "domain": "test",
            "amount": r.amount,
            "fully_deducted": True,
            "createdAt": r.created_at,
        }

    def _refund_event(self, r: RefundRecord) -> dict[str, Any]:
        return {
            "id": r.id,
            "status": r.status,
            "transaction_reference": r.transaction.reference,
            "refund_reference": f"RFD_{r.id}",
            # The refund.processed sample has the amount as a string (contradiction C13).
            "amount": str(r.amount) if r.status == "processed" else r.amount,
            "currency": r.transaction.currency,
            "processor": "sandbox",
            "customer": {"email": r.transaction.email},
            "integration": 100,
            "domain": "test",
        }

    def _dispute(self, d: DisputeRecord) -> dict[str, Any]:
        return {
            "id": d.id,
            "refund_amount": d.refund_amount,
            "currency": d.transaction.currency,
            "status": d.status,
            "resolution": d.resolution,
            "category": "chargeback",
            "domain": "test",
            "transaction": self._charge(d.transaction),
            "transaction_reference": d.transaction.reference,
            "customer": {"email": d.transaction.email},
            "bin": "408408",
            "last4": "4081",
            "dueAt": d.due_at,
            "evidence": d.evidence,
            "history": [{"status": d.status, "by": "sandbox", "createdAt": timestamp()}],
        }

    def _resolved_name(self, bank_code: str, account_number: str) -> str | None:
        if bank_code not in BANK_NAMES or account_number.startswith("000"):
            return None
        return self.accounts.get(
            (bank_code, account_number), f"SANDBOX ACCOUNT {account_number[-4:]}"
        )

    def _queue_transfer(self, body: dict[str, Any], currency: str) -> TransferRecord | str:
        """Create a transfer (under the lock) or the refusal message."""
        amount, reference = body.get("amount"), str(body.get("reference") or "")
        recipient = str(body.get("recipient") or "")
        if isinstance(amount, str) and amount.isdigit():
            amount = int(amount)
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            return "Invalid Amount Sent"
        if recipient not in self.recipients:
            return "Recipient specified is invalid"
        if reference and reference in self.transfers:
            return "Please provide a unique reference. Reference already exists on a transfer"
        fee = transfer_fee(amount)
        if self.balance.get(currency, 0) < amount + fee:
            return "Your balance is not enough to fulfil this request"
        self.balance[currency] -= amount + fee  # amount and fee are debited at creation
        number = next(self._ids)
        record = TransferRecord(
            id=number,
            code=f"TRF_{secrets.token_hex(6)}",
            reference=reference or f"trf_{number}",
            amount=amount,
            currency=currency,
            recipient=recipient,
            reason=str(body.get("reason") or ""),
            fee=fee,
            status="otp" if self.otp_required else "pending",
        )
        self.transfers[record.reference] = record
        return record

    async def _process_transfer(self, record: TransferRecord) -> None:
        """Test mode settles at once: the scripted outcome, its webhook; money back unless success."""
        with self._lock:
            record.status = self.transfer_outcome
            if record.status in ("failed", "reversed"):
                self.balance[record.currency] += record.amount + record.fee
        await self.send_event(f"transfer.{record.status}", self._transfer(record))

    def _build_app(self) -> FastAPI:
        app = build_app(self)
        register(app, self)
        return app
