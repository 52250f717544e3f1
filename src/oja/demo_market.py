"""The marketplace demo's later steps (``oja demo``, flow ``market``): catalogue imports (a CSV and
the AliExpress fake), a second checkout paid through Flutterwave's hosted page, payout accounts,
payouts sent to the Paystack fake, and the email and SMS the buyer got at the fakes.

Split from :mod:`oja.demo` (which walks the flow and owns the table) to keep each file readable;
like it, this module talks HTTP only. Payouts need the server run with short money timings (the
test and README.chaos.md set ``OJA_MARKETPLACE_SETTLEMENT_HOLD_DAYS=0``,
``OJA_MARKETPLACE_PAYOUT_ACCOUNT_CHANGE_HOLD_HOURS=0`` and short release and payout intervals); with
production timings the payout poll waits in vain and fails. The fakes' own records (the transfers,
the inboxes) are read when their addresses are known (:class:`Fakes`, from the sandbox's
variables); otherwise those steps are skipped.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from oja.demo import Walk

BANK = "058"
"""A bank the Paystack fake resolves accounts at (any number not starting 000)."""
SHIPPING = {
    "name": "Tunde Bakare",
    "line1": "4 Awolowo Road",
    "city": "Ikoyi",
    "state": "Lagos",
    "country": "NG",
    "phone": "+2348023456789",
}


@dataclass(frozen=True, slots=True)
class Fakes:
    """Where the demo reads the fakes' own records (None: not known, those steps are skipped)."""

    paystack_url: str | None = None
    paystack_key: str | None = None
    sms_url: str | None = None
    email_url: str | None = None

    @classmethod
    def from_environment(cls, email_url: str | None = None) -> Fakes:
        """The sandbox's variables (``oja serve --sandbox`` prints them as ``export`` lines)."""
        return cls(
            os.environ.get("OJA_PAYSTACK_BASE_URL"),
            os.environ.get("OJA_PAYSTACK_SECRET_KEY"),
            os.environ.get("OJA_SMS_BASE_URL"),
            email_url,
        )


def _naira(minor: int) -> str:
    return f"₦{minor / 100:,.0f}"


# -- catalogue imports --------------------------------------------------------------------------


def csv_import(w: Walk, store: dict[str, Any]) -> None:
    """The store uploads a CSV of two products; the import job creates them."""
    rows = [
        ["Title", "Description", "SKU", "Price", "Stock", "Status"],
        ["Coral earrings", "Coral drops on brass hooks.", "BEA-CSV-1", "450000", "8", "active"],
        ["Glass bead anklet", "Recycled glass beads.", "BEA-CSV-2", "300000", "6", "active"],
    ]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    started = w.call(
        "Beads: imports a CSV",
        "POST",
        "/vendors/me/imports",
        headers=store["headers"],
        files={"file": ("beads.csv", buffer.getvalue().encode(), "text/csv")},
        expect=202,
        expected="202 queued",
        show=lambda r: f"{r.json()['format']} {r.json()['status']}",
    )
    w.poll(
        "Beads: the CSV import",
        f"/vendors/me/imports/{started.json()['id']}",
        headers=store["headers"],
        until=lambda r: r.json()["status"] == "succeeded" and r.json()["counts"]["created"] == 2,
        give_up=lambda r: r.json()["status"] == "failed",
        expected="succeeded, 2 created",
        show=lambda r: f"{r.json()['status']}, {r.json()['counts']['created']} created",
    )


def aliexpress_import(w: Walk, store: dict[str, Any]) -> None:
    """The store connects its AliExpress account (the fake consents at once) and imports one
    product it found there."""
    connect = w.call(
        "Adire: connects AliExpress",
        "GET",
        "/integrations/aliexpress/connect",
        headers=store["headers"],
        expect=200,
        expected="200 consent URL",
        show=lambda r: "consent URL",
    )
    consent = w.call(
        "AliExpress consents",
        "GET",
        connect.json()["authorize_url"],
        expect=(302, 303, 307),
        expected="redirect to Oja",
        check=lambda r: "/integrations/aliexpress/callback" in r.headers["location"],
        show=lambda r: "redirect with a code",
    )
    w.call(
        "Oja takes the code",
        "GET",
        consent.headers["location"],
        expect=200,
        show=lambda r: "connected",
    )
    found = w.call(
        "Adire: searches AliExpress",
        "GET",
        "/vendors/me/aliexpress/search",
        headers=store["headers"],
        params={"q": ""},
        expect=200,
        expected="200 products",
        check=lambda r: len(r.json()["items"]) > 0,
        show=lambda r: f"{len(r.json()['items'])} found",
    )
    ae_id = found.json()["items"][0]["ae_id"]
    started = w.call(
        "Adire: imports one",
        "POST",
        "/vendors/me/aliexpress/imports",
        headers={**store["headers"], "Idempotency-Key": secrets.token_hex(8)},
        json={"products": [ae_id], "status": "active"},
        expect=202,
        show=lambda r: str(r.json()["status"]),
    )
    w.poll(
        "Adire: the AliExpress import",
        f"/vendors/me/imports/{started.json()['id']}",
        headers=store["headers"],
        until=lambda r: r.json()["status"] == "succeeded" and r.json()["counts"]["created"] == 1,
        give_up=lambda r: r.json()["status"] == "failed",
        expected="succeeded, 1 created",
        show=lambda r: f"{r.json()['status']}, {r.json()['counts']['created']} created",
    )


# -- a Flutterwave checkout ---------------------------------------------------------------------


def pay_on_hosted_page(w: Walk, link: str, *, opened: str, page: str, paid: str) -> None:
    """Open a payment fake's hosted page and press Pay; the fake answers ``paid`` and has sent its
    webhook (the Paystack and Flutterwave fakes' pages work alike)."""
    w.call(
        opened,
        "GET",
        link,
        expect=200,
        expected="200 page with Pay",
        check=lambda r: "/pay" in r.text,
        show=lambda r: page,
    )
    w.call(
        "pay (fake sends the webhook)",
        "POST",
        f"{link}/pay",
        headers={"Accept": "application/json"},
        expect=200,
        expected=f"{paid}, webhook 200",
        check=lambda r: r.json()["status"] == paid and r.json()["webhook_status"] == 200,
        show=lambda r: f"{r.json()['status']}, webhook {r.json()['webhook_status']}",
    )


@dataclass(frozen=True, slots=True)
class Buyer:
    email: str
    mobile: str
    headers: dict[str, str]


def flutterwave_order(
    w: Walk,
    store: dict[str, Any],
    password: str,
    fulfil: Callable[[Walk, str, dict[str, Any], str], None],
) -> Buyer:
    """A second buyer, with an email and a mobile number, buys from ``store`` and pays on
    Flutterwave's hosted page; the store ships and delivers (``fulfil``)."""
    email = f"tunde-{secrets.token_hex(4)}@example.com"
    mobile = f"+234803{secrets.randbelow(10_000_000):07d}"
    w.call(
        "a second buyer signs up",
        "POST",
        "/auth/signup",
        json={"email": email, "password": password, "mobile": mobile, "name": "Tunde"},
        expect=201,
        show=lambda r: "email and mobile",
    )
    login = w.call(
        "the second buyer logs in",
        "POST",
        "/auth/login",
        json={"email": email, "password": password},
        expect=200,
        show=lambda r: f"{r.json()['token_type']} token",
    )
    buyer = Buyer(email, mobile, {"Authorization": f"Bearer {login.json()['access_token']}"})
    w.call(
        "they cart the wrap",
        "POST",
        "/cart/items",
        headers=buyer.headers,
        json={"variant_id": store["variant"], "quantity": 1},
        expect=201,
        show=lambda r: f"{_naira(r.json()['total'])} in cart",
    )
    placed = w.call(
        "check out with Flutterwave",
        "POST",
        "/checkout",
        headers={**buyer.headers, "Idempotency-Key": secrets.token_hex(8)},
        json={"shipping_address": SHIPPING, "provider": "flutterwave"},
        expect=201,
        expected="201 hosted link",
        check=lambda r: r.json()["payment"]["provider"] == "flutterwave",
        show=lambda r: f"{_naira(r.json()['total'])} via {r.json()['payment']['provider']}",
    )
    group = placed.json()
    link = group["payment"]["authorization_url"]
    pay_on_hosted_page(
        w, link, opened="open Flutterwave's page", page="hosted payment page", paid="successful"
    )
    w.poll(
        "the Flutterwave group is paid",
        f"/order-groups/{group['order_group_id']}",
        headers=buyer.headers,
        until=lambda r: r.json()["status"] == "paid",
        expected="paid",
        show=lambda r: str(r.json()["status"]),
    )
    fulfil(w, "Adire", store, group["orders"][0]["id"])
    return buyer


# -- payouts ------------------------------------------------------------------------------------


def payouts(w: Walk, admin: dict[str, str], stores: dict[str, dict[str, Any]]) -> None:
    """Each store connects a payout account (resolved at the Paystack fake); the operator approves
    the ones whose resolved name is not the store's; the payout run sends each store's available
    balance; the transfers are read back at the fake.

    The accounts are connected only now, after the refund: with a zero-day hold a payout sent
    between the returned order's release and its refund would overdraw the store."""
    references: dict[str, str] = {}
    for label, store in stores.items():
        # Every share released first, so each store is paid once, its whole balance.
        w.poll(
            f"{label}: sales released",
            "/vendors/me/balance",
            headers=store["headers"],
            until=lambda r: all(b["pending"] == 0 for b in r.json()["balances"]),
            expected="nothing pending",
            show=lambda r: ", ".join(
                f"{_naira(b['available'])} available, {_naira(b['pending'])} pending"
                for b in r.json()["balances"]
            ),
        )
    for label, store in stores.items():
        number = f"01{secrets.randbelow(100_000_000):08d}"
        added = w.call(
            f"{label}: connects a bank account",
            "PUT",
            "/vendors/me/payout-account",
            headers=store["headers"],
            json={"bank_code": BANK, "account_number": number},
            expect=200,
            show=_account,
        )
        if added.json()["active"] is None:
            w.call(
                f"operator approves {label}'s",
                "POST",
                f"/admin/vendors/{store['id']}/payout-account/approve",
                headers=admin,
                json={},
                expect=200,
                expected="200 active",
                check=lambda r: r.json()["active"] is not None,
                show=_account,
            )
    for label, store in stores.items():
        paid = w.poll(
            f"{label}: the payout run pays it",
            "/vendors/me/payouts",
            headers=store["headers"],
            until=lambda r: any(p["status"] in ("processing", "paid") for p in r.json()["items"]),
            give_up=lambda r: any(p["status"] == "failed" for p in r.json()["items"]),
            expected="a payout sent",
            show=lambda r: (
                ", ".join(f"{_naira(p['amount'])} {p['status']}" for p in r.json()["items"])
                or "none yet"
            ),
        )
        references[label] = paid.json()["items"][0]["reference"]
    fakes = w.fakes
    if fakes.paystack_url is None or fakes.paystack_key is None:
        w.skip("the transfers at Paystack", "skipped (the Paystack fake's address is unknown)")
        return
    for label, reference in references.items():
        w.call(
            f"Paystack has {label}'s transfer",
            "GET",
            f"{fakes.paystack_url}/transfer/verify/{reference}",
            headers={"Authorization": f"Bearer {fakes.paystack_key}"},
            expect=200,
            expected="200 the transfer",
            check=lambda r: r.json()["data"]["reference"] == reference,  # noqa: B023 - called now
            show=lambda r: f"{_naira(r.json()['data']['amount'])} {r.json()['data']['status']}",
        )


def _account(response: httpx.Response) -> str:
    body = response.json()
    account = body["active"] or body["pending"]
    state = "active" if body["active"] else "awaiting the operator"
    return f"{account['account_name']} {state}"


# -- the fakes' inboxes -------------------------------------------------------------------------


ORDER_MESSAGES = 3
"""What the second buyer hears by email and by SMS: the order confirmed, shipped, delivered."""


def inboxes(w: Walk, buyer: Buyer) -> None:
    """The email and SMS the second buyer got, counted at the fakes' inboxes."""
    fakes = w.fakes
    digits = buyer.mobile.lstrip("+")
    for name, url, mine in (
        ("emails at the email fake", fakes.email_url, lambda m: buyer.email in str(m.get("to"))),
        ("texts at the SMS fake", fakes.sms_url, lambda m: str(m.get("to")).lstrip("+") == digits),
    ):
        if url is None:
            w.skip(name, "skipped (the fake's address is unknown)")
            continue
        w.poll(
            name,
            f"{url}/messages",
            until=lambda r: sum(map(mine, r.json()["messages"])) >= ORDER_MESSAGES,  # noqa: B023
            expected=f"{ORDER_MESSAGES} to the buyer",
            show=lambda r: f"{sum(map(mine, r.json()['messages']))} to the buyer",  # noqa: B023
        )
