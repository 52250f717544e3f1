"""PCI DSS SAQ A: after a whole paid checkout, no card number, CVV, reusable authorization or card
token is in the database, the logs or any API answer — only brand, last four digits and expiry."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from oja.billing.cards import redact_card_data
from oja.core.db import Base
from oja.sandbox.paystack import PaystackFake
from tests.conftest import Jobs, LogCapture

from .conftest import person, rows
from .shop import add, checkout, paid_webhook, paystack, paystack_server, settings, shop

__all__ = ["paystack", "paystack_server", "settings"]

# A card number: an issuer prefix (Visa, Mastercard, Amex, Discover/Verve), 13–19 digits standing
# alone (not inside a hash, an id or a dotted message id such as ``<1796.2549356133879844325@host>``),
# and a valid Luhn check digit.
PAN = re.compile(r"(?<![0-9A-Za-z.@_])(?:4|5[1-5]|2[2-7]|3[47]|6)\d{11,17}(?![0-9A-Za-z.@_])")
# What the Paystack fake's charge carries beyond brand/last4/expiry (see oja.sandbox.paystack).
CARD_SECRETS = ("AUTH_sandbox", "SIG_sandbox", "408408", "authorization_code", "cvv")


def luhn(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def card_data(blob: str) -> list[str]:
    found = [m for m in PAN.findall(blob) if luhn(m)]
    return found + [
        secret
        for secret in CARD_SECRETS
        if re.search(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])", blob, re.IGNORECASE)
    ]


def test_the_scanner_finds_what_it_looks_for() -> None:
    assert card_data('{"pan": "4084084084084081", "at": 1765000000000}') == ["4084084084084081"]
    assert card_data("id 01a24b96-c9ed-7e7c-b25f-93db0b533a36 sha 4084084084084081ab") == []
    assert card_data("<179656574979.2549356133879844325@console.oja.local>") == []
    assert card_data('{"authorization_code": "AUTH_x"}') == ["authorization_code"]


def test_redaction_keeps_brand_last4_and_expiry_only() -> None:
    paystack_data = {
        "data": {
            "reference": "r-1",
            "authorization": {
                "authorization_code": "AUTH_x",
                "bin": "408408",
                "last4": "4081",
                "exp_month": "12",
                "exp_year": "2030",
                "card_type": "visa",
                "signature": "SIG_x",
                "reusable": True,
            },
        }
    }
    flutterwave_data = {
        "data": {
            "card": {
                "first_6digits": "553188",
                "last_4digits": "2950",
                "type": "MASTERCARD",
                "token": "flw-t",
                "expiry": "09/32",
            }
        }
    }
    assert redact_card_data(paystack_data) == {
        "data": {
            "reference": "r-1",
            "authorization": {
                "last4": "4081",
                "exp_month": "12",
                "exp_year": "2030",
                "card_type": "visa",
            },
        }
    }
    assert redact_card_data([flutterwave_data]) == [
        {"data": {"card": {"last_4digits": "2950", "type": "MASTERCARD", "expiry": "09/32"}}}
    ]


async def test_a_paid_checkout_leaves_no_card_data_anywhere(
    app: Any,
    client: httpx.AsyncClient,
    paystack: PaystackFake,
    jobs: Jobs,
    log_output: LogCapture,
) -> None:
    store = await shop(app, client, "Cards", [{"sku": "C-1", "price": 1500, "stock": 2}])
    buyer = await person(client)
    answers: list[httpx.Response] = [await add(client, buyer, store.variant()["id"], 1)]
    placed = await checkout(client, buyer)
    assert placed.status_code == 201, placed.text
    body = placed.json()
    reference = body["payment"]["reference"]
    assert await paid_webhook(app, client, paystack, jobs, reference) == ["succeeded"]
    order_id = body["orders"][0]["id"]
    for path in ("/orders", f"/orders/{order_id}", f"/order-groups/{body['order_group_id']}"):
        answers.append(await client.get(path, headers=buyer.headers))
    answers.append(await client.get("/vendors/me/orders", headers=store.owner.headers))
    assert [a.status_code for a in answers] == [201, 200, 200, 200, 200]
    assert answers[2].json()["status"] == "confirmed"

    # The charge did carry a reusable authorization: the inbox kept brand, last4 and expiry only.
    [(payload,)] = await rows(
        app, "SELECT payload FROM webhook_event WHERE event_type = 'charge.success'"
    )
    stored = payload if isinstance(payload, dict) else json.loads(payload)
    assert stored["data"]["authorization"] == {
        "last4": "4081",
        "exp_month": "12",
        "exp_year": "2030",
        "card_type": "visa",
        "brand": "visa",
    }

    dump = []
    for table in Base.metadata.sorted_tables:
        for row in await rows(app, f'SELECT * FROM "{table.name}"'):
            # Every value in full (a Row's repr shortens long ones).
            dump.append(json.dumps(list(row), default=str))
    assert card_data("\n".join(dump)) == [], [d for d in dump if card_data(d)]
    assert card_data(log_output.text) == []
    assert card_data("\n".join([placed.text, *(a.text for a in answers)])) == []
    # The scan saw the payment: the database holds the reference and the last four digits.
    assert [d for d in dump if reference in d] != []
    assert [d for d in dump if "4081" in d] != []
