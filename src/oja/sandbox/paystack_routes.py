"""The Paystack fake's routes (see :mod:`oja.sandbox.paystack` for what they promise)."""

from __future__ import annotations

import html
import secrets
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from oja.sandbox.base import fake_app, json_object
from oja.sandbox.paystack_records import (
    BANK_NAMES,
    BANKS,
    RATE_LIMITED_BODY,
    SANDBOX_OTP,
    SUPPORTED_CURRENCIES,
    RefundRecord,
    SplitRecord,
    SubaccountRecord,
    Transaction,
)

if TYPE_CHECKING:
    from oja.sandbox.paystack import PaystackFake


def build_app(fake: PaystackFake) -> FastAPI:
    app = fake_app("Paystack")

    def ok(data: Any, message: str = "Successful", status: int = 200) -> JSONResponse:
        return JSONResponse({"status": True, "message": message, "data": data}, status)

    def refuse(status: int, message: str, code: str | None = None) -> JSONResponse:
        body: dict[str, Any] = {"status": False, "message": message}
        if code:
            body["code"] = code
        return JSONResponse(body, status_code=status)

    def gate(request: Request, name: str) -> JSONResponse | None:
        match fake._admit(request, name):
            case 401:
                return refuse(401, "Invalid key")
            case 500:
                return refuse(500, "An error occurred")
        with fake._lock:
            wait = fake._rate_limits.pop(0) if fake._rate_limits else None
        if wait is not None:
            return JSONResponse(
                RATE_LIMITED_BODY, status_code=429, headers={"Retry-After": str(wait)}
            )
        return None

    async def read(request: Request, name: str) -> dict[str, Any] | JSONResponse:
        if (denied := gate(request, name)) is not None:
            return denied
        body = await json_object(request)
        return refuse(400, "Invalid JSON body") if body is None else body

    def new_transaction(
        body: dict[str, Any],
        *,
        amount: int,
        currency: str,
        email: str,
        split_code: str | None,
        subaccount: str | None,
    ) -> Transaction | None:
        """A new transaction under ``body["reference"]`` (or a fresh one); None for a reused one."""
        reference = str(body.get("reference") or secrets.token_hex(8))
        with fake._lock:
            if reference in fake.transactions:
                return None
            tx = Transaction(
                id=next(fake._ids),
                reference=reference,
                access_code=secrets.token_hex(8),
                amount=amount,
                currency=currency,
                email=email,
                metadata=body.get("metadata") or {},
                callback_url=body.get("callback_url"),
                split_code=split_code,
                subaccount=subaccount,
            )
            fake.transactions[reference] = tx
            return tx

    # Transactions

    @app.post("/transaction/initialize")
    async def initialize(request: Request) -> Response:
        body = await read(request, "initialize")
        if isinstance(body, JSONResponse):
            return body
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
        split_code, subaccount = body.get("split_code"), body.get("subaccount")
        if body.get("split") is not None:
            made = dynamic_split(body["split"], currency)
            if isinstance(made, str):
                return refuse(400, made)
            split_code = made.code
        if split_code is not None and split_code not in fake.splits:
            return refuse(400, "Split code is invalid")
        if subaccount is not None and subaccount not in fake.subaccounts:
            return refuse(400, "Subaccount is invalid")
        split = fake.splits.get(split_code or "")
        if split is not None and split.type == "flat" and sum(split.shares.values()) > amount:
            return refuse(400, "Flat split shares exceed the transaction amount")
        tx = new_transaction(
            body,
            amount=amount,
            currency=currency,
            email=email,
            split_code=split_code,
            subaccount=subaccount,
        )
        if tx is None:
            return refuse(400, "Duplicate Transaction Reference")
        tx.split_request = body.get("split")
        base = str(request.base_url).rstrip("/")
        return ok(
            {
                "authorization_url": f"{base}/checkout/{tx.access_code}",
                "access_code": tx.access_code,
                "reference": tx.reference,
            },
            "Authorization URL created",
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
        return ok(data, "Verification successful")

    @app.post("/transaction/charge_authorization")
    async def charge_authorization(request: Request) -> Response:
        body = await read(request, "charge_authorization")
        if isinstance(body, JSONResponse):
            return body
        email, amount = body.get("email"), body.get("amount")
        owner = next(
            (t for t in fake.transactions.values() if t.status == "success" and t.email == email),
            None,
        )
        if body.get("authorization_code") != "AUTH_sandbox" or owner is None:
            return refuse(400, "Invalid authorization code")
        if not isinstance(amount, int) or amount <= 0:
            return refuse(400, "Invalid Amount Sent")
        tx = new_transaction(
            body,
            amount=amount,
            currency=str(body.get("currency") or owner.currency),
            email=str(email),
            split_code=body.get("split_code"),
            subaccount=None,
        )
        if tx is None:
            return refuse(400, "Duplicate Transaction Reference")
        reference = tx.reference
        fake.settle(reference, "success")
        await fake.deliver("charge.success", tx)
        return ok(fake._charge(tx), "Charge attempted")

    # Subaccounts

    @app.post("/subaccount")
    async def create_subaccount(request: Request) -> Response:
        body = await read(request, "subaccount.create")
        if isinstance(body, JSONResponse):
            return body
        # settlement_bank per the API reference, bank_code per some guides (C1): both taken.
        bank = str(body.get("settlement_bank") or body.get("bank_code") or "")
        if bank not in BANK_NAMES:
            bank = next((c for c, n in BANK_NAMES.items() if n == bank), bank)
        account = str(body.get("account_number") or "")
        charge = body.get("percentage_charge")
        if not body.get("business_name") or charge is None:
            return refuse(400, "business_name and percentage_charge are required")
        if fake._resolved_name(bank, account) is None:
            return refuse(400, "Account details are invalid")
        with fake._lock:
            number = next(fake._ids)
            record = SubaccountRecord(
                id=number,
                code=f"ACCT_{secrets.token_hex(5)}",
                business_name=str(body["business_name"]),
                bank_code=bank,
                account_number=account,
                percentage_charge=float(charge),
                email=body.get("primary_contact_email"),
            )
            fake.subaccounts[record.code] = record
        return ok(record.as_json(), "Subaccount created", 201)

    @app.get("/subaccount")
    async def list_subaccounts(request: Request) -> Response:
        if (denied := gate(request, "subaccount.list")) is not None:
            return denied
        return ok([s.as_json() for s in fake.subaccounts.values()], "Subaccounts retrieved")

    def find_subaccount(key: str) -> SubaccountRecord | None:
        return fake.subaccounts.get(key) or next(
            (s for s in fake.subaccounts.values() if str(s.id) == key), None
        )

    @app.get("/subaccount/{key}")
    async def fetch_subaccount(key: str, request: Request) -> Response:
        if (denied := gate(request, "subaccount.fetch")) is not None:
            return denied
        record = find_subaccount(key)
        return refuse(404, "Subaccount not found") if record is None else ok(record.as_json())

    @app.put("/subaccount/{key}")
    async def update_subaccount(key: str, request: Request) -> Response:
        body = await read(request, "subaccount.update")
        if isinstance(body, JSONResponse):
            return body
        record = find_subaccount(key)
        if record is None:
            return refuse(404, "Subaccount not found")
        with fake._lock:
            if "business_name" in body:
                record.business_name = str(body["business_name"])
            if "settlement_bank" in body or "bank_code" in body:
                record.bank_code = str(body.get("settlement_bank") or body.get("bank_code"))
            if "account_number" in body:
                record.account_number = str(body["account_number"])
            if "percentage_charge" in body:
                record.percentage_charge = float(body["percentage_charge"])
            if "active" in body:
                record.active = bool(body["active"])
        return ok(record.as_json(), "Subaccount updated")

    # Splits

    def check_shares(kind: str, shares: dict[str, Any]) -> str | None:
        if any(code not in fake.subaccounts for code in shares):
            return "Subaccount is invalid"
        if any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in shares.values()):
            return "Shares must be integers"
        if kind == "percentage" and sum(shares.values()) > 100:
            return "Percentage shares cannot exceed 100"
        return None

    def dynamic_split(raw: Any, currency: str) -> SplitRecord | str:
        """A dynamic ``split`` sent with initialize, kept like a split group; or the refusal."""
        if not isinstance(raw, dict) or raw.get("type") not in ("percentage", "flat"):
            return "split needs a type of percentage or flat"
        entries = raw.get("subaccounts") or []
        shares: dict[str, Any] = {
            str(e.get("subaccount")): e.get("share") for e in entries if isinstance(e, dict)
        }
        if not shares:
            return "split needs subaccounts"
        if (problem := check_shares(str(raw["type"]), shares)) is not None:
            return problem
        bearer = str(raw.get("bearer_type") or "account")
        if bearer == "subaccount" and raw.get("bearer_subaccount") not in shares:
            return "bearer_subaccount must be a member of the split"
        with fake._lock:
            split = SplitRecord(
                id=next(fake._ids),
                code=f"SPL_{secrets.token_hex(5)}",
                name=str(raw.get("name") or "dynamic"),
                type=str(raw["type"]),
                currency=str(raw.get("currency") or currency),
                shares={code: int(share) for code, share in shares.items()},
                bearer_type=bearer,
                bearer_subaccount=raw.get("bearer_subaccount"),
                dynamic=True,
            )
            fake.splits[split.code] = split
        return split

    @app.post("/split")
    async def create_split(request: Request) -> Response:
        body = await read(request, "split.create")
        if isinstance(body, JSONResponse):
            return body
        kind = body.get("type")
        if kind not in ("percentage", "flat") or not body.get("name"):
            return refuse(400, "name and a type of percentage or flat are required")
        entries = body.get("subaccounts") or []
        shares: dict[str, Any] = {
            str(e.get("subaccount")): e.get("share") for e in entries if isinstance(e, dict)
        }
        if (problem := check_shares(str(kind), shares)) is not None:
            return refuse(400, problem)
        valid: dict[str, int] = {code: int(share) for code, share in shares.items()}
        bearer = str(body.get("bearer_type") or "account")  # the guide's default (C2)
        bearer_subaccount = body.get("bearer_subaccount")
        if bearer == "subaccount" and bearer_subaccount not in shares:
            return refuse(400, "bearer_subaccount must be a member of the split")
        with fake._lock:
            number = next(fake._ids)
            split = SplitRecord(
                id=number,
                code=f"SPL_{secrets.token_hex(5)}",
                name=str(body["name"]),
                type=str(kind),
                currency=str(body.get("currency") or "NGN"),
                shares=valid,
                bearer_type=bearer,
                bearer_subaccount=bearer_subaccount,
            )
            fake.splits[split.code] = split
        return ok(fake._split_json(split), "Split created", 201)

    @app.get("/split")
    async def list_splits(request: Request) -> Response:
        if (denied := gate(request, "split.list")) is not None:
            return denied
        return ok([fake._split_json(s) for s in fake.splits.values()], "Split retrieved")

    def find_split(key: str) -> SplitRecord | None:
        return fake.splits.get(key) or next(
            (s for s in fake.splits.values() if str(s.id) == key), None
        )

    @app.get("/split/{key}")
    async def fetch_split(key: str, request: Request) -> Response:
        if (denied := gate(request, "split.fetch")) is not None:
            return denied
        split = find_split(key)
        return refuse(404, "Split not found") if split is None else ok(fake._split_json(split))

    @app.put("/split/{key}")
    async def update_split(key: str, request: Request) -> Response:
        body = await read(request, "split.update")
        if isinstance(body, JSONResponse):
            return body
        split = find_split(key)
        if split is None:
            return refuse(404, "Split not found")
        if "type" in body and body["type"] != split.type:
            return refuse(400, "Split type cannot be changed")
        with fake._lock:
            split.name = str(body.get("name") or split.name)
            split.active = bool(body.get("active", split.active))
            split.bearer_type = str(body.get("bearer_type") or split.bearer_type)
            split.bearer_subaccount = body.get("bearer_subaccount", split.bearer_subaccount)
        return ok(fake._split_json(split), "Split group updated")

    @app.post("/split/{key}/subaccount/{action}")
    async def split_member(key: str, action: str, request: Request) -> Response:
        body = await read(request, f"split.{action}")
        if isinstance(body, JSONResponse):
            return body
        split = find_split(key)
        if split is None or action not in ("add", "remove"):
            return refuse(404, "Split not found")
        code = str(body.get("subaccount") or "")
        with fake._lock:
            if action == "remove":
                split.shares.pop(code, None)
            else:
                shares: dict[str, Any] = {**split.shares, code: body.get("share")}
                if (problem := check_shares(split.type, shares)) is not None:
                    return refuse(400, problem)
                split.shares = {c: int(v) for c, v in shares.items()}
        return ok(fake._split_json(split), f"Subaccount {action}ed")

    # Banks and recipients

    @app.get("/bank")
    async def banks(request: Request) -> Response:
        if (denied := gate(request, "bank.list")) is not None:
            return denied
        country = request.query_params.get("country", "nigeria").lower()
        if country not in ("nigeria", "ng"):
            return ok([])
        return ok(
            [
                {
                    "id": index + 1,
                    "name": name,
                    "slug": slug,
                    "code": code,
                    "longcode": "",
                    "gateway": None,
                    "pay_with_bank": False,
                    "supports_transfer": True,
                    "active": True,
                    "is_deleted": False,
                    "country": "Nigeria",
                    "currency": "NGN",
                    "type": "nuban",
                }
                for index, (code, name, slug) in enumerate(BANKS)
            ],
            "Banks retrieved",
        )

    @app.get("/bank/resolve")
    async def resolve(request: Request) -> Response:
        if (denied := gate(request, "bank.resolve")) is not None:
            return denied
        number = request.query_params.get("account_number", "")
        bank = request.query_params.get("bank_code", "")
        if not number.isdigit():
            return refuse(422, "Account number should be numeric")
        name = fake._resolved_name(bank, number) if len(number) == 10 else None
        if name is None:
            return refuse(422, "Could not resolve account name. Check parameters or try again.")
        bank_id = next(i + 1 for i, (c, _, _) in enumerate(BANKS) if c == bank)
        return ok(
            {"account_number": number, "account_name": name, "bank_id": bank_id},
            "Account number resolved",
        )

    @app.post("/transferrecipient")
    async def create_recipient(request: Request) -> Response:
        body = await read(request, "transferrecipient.create")
        if isinstance(body, JSONResponse):
            return body
        number, bank = str(body.get("account_number") or ""), str(body.get("bank_code") or "")
        if bank not in BANK_NAMES:
            return refuse(400, "Bank code is invalid")
        name = fake._resolved_name(bank, number)
        if name is None:
            return refuse(400, "Cannot resolve account")
        with fake._lock:
            existing = next(
                (
                    r
                    for r in fake.recipients.values()
                    if r["details"]["account_number"] == number
                    and r["details"]["bank_code"] == bank
                ),
                None,
            )
            if existing is not None:  # a duplicate account answers the existing recipient
                return ok(existing, "Transfer recipient created successfully", 201)
            recipient: dict[str, Any] = {
                "id": next(fake._ids),
                "recipient_code": f"RCP_{secrets.token_hex(6)}",
                "type": str(body.get("type") or "nuban"),
                "name": str(body.get("name") or name),
                "currency": str(body.get("currency") or "NGN"),
                "active": True,
                "is_deleted": False,
                "domain": "test",
                "details": {
                    "authorization_code": None,
                    "account_number": number,
                    "account_name": name,
                    "bank_code": bank,
                    "bank_name": BANK_NAMES[bank],
                },
            }
            fake.recipients[str(recipient["recipient_code"])] = recipient
        return ok(recipient, "Transfer recipient created successfully", 201)

    # Transfers

    @app.post("/transfer")
    async def transfer(request: Request) -> Response:
        body = await read(request, "transfer")
        if isinstance(body, JSONResponse):
            return body
        currency = str(body.get("currency") or "NGN")
        with fake._lock:
            record = fake._queue_transfer(body, currency)
        if isinstance(record, str):
            return refuse(400, record)
        answer = fake._transfer(record)
        if record.status == "pending":
            await fake._process_transfer(record)
        message = (
            "Transfer requires OTP to continue"
            if record.status == "otp"
            else "Transfer has been queued"
        )
        return ok(answer, message)

    @app.post("/transfer/finalize_transfer")
    async def finalize(request: Request) -> Response:
        body = await read(request, "transfer.finalize")
        if isinstance(body, JSONResponse):
            return body
        record = next(
            (t for t in fake.transfers.values() if t.code == body.get("transfer_code")), None
        )
        if record is None:
            return refuse(404, "Transfer not found")
        if record.status != "otp":
            return refuse(400, "Transfer is not currently awaiting OTP")
        if body.get("otp") != SANDBOX_OTP:
            return refuse(400, "Invalid OTP")
        record.status = "pending"
        answer = fake._transfer(record)
        await fake._process_transfer(record)
        return ok(answer, "Transfer has been queued")

    @app.post("/transfer/resend_otp")
    async def resend_otp(request: Request) -> Response:
        body = await read(request, "transfer.resend_otp")
        if isinstance(body, JSONResponse):
            return body
        if body.get("reason") not in ("resend_otp", "transfer", "disable_otp"):
            return refuse(400, "Reason is invalid")
        record = next(
            (t for t in fake.transfers.values() if t.code == body.get("transfer_code")), None
        )
        if record is None:
            return refuse(404, "Transfer not found")
        if record.status != "otp":
            return refuse(400, "Transfer is not currently awaiting OTP")
        return JSONResponse({"status": True, "message": "OTP has been resent"})

    @app.post("/transfer/bulk")
    async def bulk(request: Request) -> Response:
        body = await read(request, "transfer.bulk")
        if isinstance(body, JSONResponse):
            return body
        if fake.otp_required:
            return refuse(400, "You need to disable the OTP requirement to use this feature.")
        items = body.get("transfers")
        if not isinstance(items, list) or not items or len(items) > 100:
            return refuse(400, "transfers must hold 1 to 100 transfers")
        currency = str(body.get("currency") or "NGN")
        with fake._lock:
            queued = [fake._queue_transfer(item, currency) for item in items]
        created = [q for q in queued if not isinstance(q, str)]
        answers = [
            {
                "reference": t.reference,
                "recipient": t.recipient,
                "amount": t.amount,
                "transfer_code": t.code,
                "currency": t.currency,
                "status": t.status,
            }
            for t in created
        ]
        for record in created:
            await fake._process_transfer(record)
        return ok(answers, f"{len(created)} transfers queued.")

    @app.get("/transfer/verify/{reference}")
    async def verify_transfer(reference: str, request: Request) -> Response:
        if (denied := gate(request, "transfer.verify")) is not None:
            return denied
        record = fake.transfers.get(reference)
        return refuse(404, "Transfer not found") if record is None else ok(fake._transfer(record))

    # Refunds

    @app.post("/refund")
    async def refund(request: Request) -> Response:
        body = await read(request, "refund")
        if isinstance(body, JSONResponse):
            return body
        key = str(body.get("transaction") or "")
        with fake._lock:
            tx = fake.transactions.get(key) or next(
                (t for t in fake.transactions.values() if str(t.id) == key), None
            )
            if tx is None:
                return refuse(404, "Transaction not found")
            if tx.status not in ("success", "reversed"):
                return refuse(400, "Cannot refund a transaction that was not successful")
            if tx.refunded >= tx.amount:
                return refuse(400, "Transaction has been fully reversed")
            amount = body.get("amount", tx.amount - tx.refunded)
            if not isinstance(amount, int) or amount <= 0:
                return refuse(400, "Invalid refund amount")
            if amount > tx.amount - tx.refunded:
                return refuse(400, "Refund amount cannot be more than the transaction amount")
            if fake.balance.get(tx.currency, 0) < amount:
                return refuse(400, "Insufficient balance to fulfill this refund. Please top up.")
            fake.balance[tx.currency] -= amount
            tx.refunded += amount
            note = body.get("merchant_note")
            record = RefundRecord(
                id=next(fake._ids),
                transaction=tx,
                amount=amount,
                merchant_note=note if isinstance(note, str) else None,
            )
            if fake._needs_attention:
                fake._needs_attention -= 1
                record.status = "needs-attention"
            fake.refunds.append(record)
        if record.status == "needs-attention":
            await fake.send_event("refund.needs-attention", fake._refund_event(record))
        else:
            await fake.send_event("refund.pending", fake._refund_event(record))
        return ok(fake._refund(record), "Refund has been queued for processing")

    @app.get("/refund")
    async def list_refunds(request: Request) -> Response:
        if (denied := gate(request, "refund.list")) is not None:
            return denied
        wanted = request.query_params.get("transaction")
        found = [
            fake._refund(r)
            for r in fake.refunds
            if wanted is None or wanted in (r.transaction.reference, str(r.transaction.id))
        ]
        return ok(found, "Refunds retrieved")

    @app.get("/refund/{refund_id}")
    async def fetch_refund(refund_id: str, request: Request) -> Response:
        if (denied := gate(request, "refund.fetch")) is not None:
            return denied
        record = next((r for r in fake.refunds if str(r.id) == refund_id), None)
        return refuse(404, "Refund not found") if record is None else ok(fake._refund(record))

    @app.post("/refund/retry_with_customer_details/{refund_id}")
    async def retry_refund(refund_id: str, request: Request) -> Response:
        body = await read(request, "refund.retry")
        if isinstance(body, JSONResponse):
            return body
        record = next((r for r in fake.refunds if str(r.id) == refund_id), None)
        if record is None:
            return refuse(404, "Refund not found")
        if record.status != "needs-attention":
            return refuse(422, 'Invalid Refund state, refund status should be "needs-attention"')
        details = body.get("refund_account_details")
        if not isinstance(details, dict) or not details.get("account_number"):
            return refuse(400, "refund_account_details is required")
        record.status = "processing"
        await fake.send_event("refund.processing", fake._refund_event(record))
        return ok(fake._refund(record), "Refund retried")

    # Disputes

    @app.get("/dispute")
    async def list_disputes(request: Request) -> Response:
        if (denied := gate(request, "dispute.list")) is not None:
            return denied
        wanted = request.query_params.get("status")
        found = [
            fake._dispute(d) for d in fake.disputes.values() if wanted is None or d.status == wanted
        ]
        return ok(found, "Disputes retrieved")

    @app.get("/dispute/{dispute_id}")
    async def fetch_dispute(dispute_id: str, request: Request) -> Response:
        if (denied := gate(request, "dispute.fetch")) is not None:
            return denied
        found = fake.disputes.get(int(dispute_id)) if dispute_id.isdigit() else None
        return refuse(404, "Dispute not found") if found is None else ok(fake._dispute(found))

    @app.post("/dispute/{dispute_id}/evidence")
    async def evidence(dispute_id: str, request: Request) -> Response:
        body = await read(request, "dispute.evidence")
        if isinstance(body, JSONResponse):
            return body
        found = fake.disputes.get(int(dispute_id)) if dispute_id.isdigit() else None
        if found is None:
            return refuse(404, "Dispute not found")
        required = ("customer_email", "customer_name", "customer_phone", "service_details")
        if missing := [name for name in required if not body.get(name)]:
            return refuse(400, f"{', '.join(missing)} required")
        found.evidence = {"id": next(fake._ids), **body, "dispute": found.id}
        return ok(found.evidence, "Evidence created", 201)

    @app.put("/dispute/{dispute_id}/resolve")
    async def resolve_dispute(dispute_id: str, request: Request) -> Response:
        body = await read(request, "dispute.resolve")
        if isinstance(body, JSONResponse):
            return body
        found = fake.disputes.get(int(dispute_id)) if dispute_id.isdigit() else None
        if found is None:
            return refuse(404, "Dispute not found")
        if found.status == "resolved":
            return refuse(400, "Dispute has already been resolved")
        resolution = body.get("resolution")
        if resolution not in ("merchant-accepted", "declined"):
            return refuse(400, "resolution must be merchant-accepted or declined")
        for name in ("message", "refund_amount", "uploaded_filename"):
            if body.get(name) is None:
                return refuse(400, f"{name} is required")
        if resolution == "declined" and found.evidence is None:
            return refuse(400, "Evidence is required to decline a dispute")
        found.status, found.resolution = "resolved", str(resolution)
        found.refund_amount = int(body["refund_amount"])
        if resolution == "merchant-accepted":
            found.transaction.status = "reversed"
        await fake.send_event("charge.dispute.resolve", fake._dispute(found))
        return ok(fake._dispute(found), "Dispute successfully resolved")

    # Hosted checkout

    def by_code(access_code: str) -> Transaction | None:
        return next((t for t in fake.transactions.values() if t.access_code == access_code), None)

    @app.get("/checkout/{access_code}", response_class=HTMLResponse)
    async def checkout(access_code: str) -> Response:
        tx = by_code(access_code)
        if tx is None:
            return HTMLResponse("<h1>Unknown checkout</h1>", status_code=404)
        amount = f"{tx.currency} {tx.amount // 100:,}.{tx.amount % 100:02d}"
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
