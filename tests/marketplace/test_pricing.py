"""Discounts and the one pricing function: best single discount, stacking only among stackable
ones, half-up rounding in minor units, never below zero."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from oja.marketplace.pricing.models import Discount, DiscountScope, DiscountType
from oja.marketplace.pricing.prices import PricedItem, effective_price, percent_of

from .conftest import admin, approved_store, count, error_code, person

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
VENDOR, PRODUCT, CATEGORY, PARENT = (uuid.uuid4() for _ in range(4))


def item(price: int = 10_000, currency: str = "NGN") -> PricedItem:
    return PricedItem(VENDOR, PRODUCT, frozenset({CATEGORY, PARENT}), price, currency)


def discount(
    kind: str = "percentage",
    value: int = 10,
    *,
    scope: str = "store",
    target: uuid.UUID | None = None,
    stackable: bool = False,
    **fields: Any,
) -> Discount:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "vendor_id": VENDOR,
        "type": DiscountType(kind),
        "value": value,
        "currency": "NGN",
        "scope": DiscountScope(scope),
        "target_id": target,
        "starts_at": NOW - timedelta(days=1),
        "ends_at": None,
        "code": None,
        "usage_limit": None,
        "used_count": 0,
        "stackable": stackable,
    }
    values.update(fields)
    return Discount(**values)


@pytest.mark.parametrize(
    ("amount", "percent", "expected"),
    [(999, 15, 150), (1000, 15, 150), (10, 5, 1), (9, 5, 0), (1, 50, 1), (3, 50, 2), (0, 30, 0)],
)
def test_percentages_round_half_up(amount: int, percent: int, expected: int) -> None:
    assert percent_of(amount, percent) == expected


def test_no_discount_is_the_price() -> None:
    quote = effective_price(item(), [], NOW)
    assert (quote.price, quote.effective_price, quote.discount_ids) == (10_000, 10_000, ())


def test_best_single_discount_wins() -> None:
    ten = discount(value=10)
    fixed = discount("fixed", 1_500, scope="product", target=PRODUCT)
    twenty = discount(value=20, scope="category", target=PARENT)
    quote = effective_price(item(), [ten, fixed, twenty], NOW)
    assert (quote.effective_price, quote.discount_ids) == (8_000, (twenty.id,))


def test_two_are_stacked_only_when_both_are_stackable() -> None:
    a = discount(value=10, stackable=True)
    b = discount("fixed", 1_500, scope="product", target=PRODUCT, stackable=True)
    lone = discount(value=20)
    assert effective_price(item(), [a, b], NOW).effective_price == 7_500
    assert effective_price(item(), [a, b], NOW).discount_ids == (a.id, b.id)
    # A lone 20 % (2,000 off) loses to the stack (2,500 off); a lone 30 % beats it.
    assert effective_price(item(), [a, b, lone], NOW).effective_price == 7_500
    big = discount(value=30)
    assert effective_price(item(), [a, b, big], NOW).discount_ids == (big.id,)
    # One stackable and one not: never both.
    half = discount(value=10, stackable=False)
    quote = effective_price(item(), [a, half], NOW)
    assert (quote.effective_price, len(quote.discount_ids)) == (9_000, 1)


def test_never_below_zero() -> None:
    quote = effective_price(item(price=500), [discount("fixed", 900)], NOW)
    assert quote.effective_price == 0
    stacked = [discount(value=60, stackable=True), discount(value=60, stackable=True)]
    assert effective_price(item(price=500), stacked, NOW).effective_price == 0


def test_what_does_not_apply() -> None:
    others = [
        discount(value=50, starts_at=NOW + timedelta(minutes=1)),
        discount(value=50, ends_at=NOW),
        discount(value=50, code="SECRET"),
        discount(value=50, usage_limit=3, used_count=3),
        discount("fixed", 100, currency="USD"),
        discount(value=50, scope="product", target=uuid.uuid4()),
        discount(value=50, scope="category", target=uuid.uuid4()),
        discount(value=50, vendor_id=uuid.uuid4()),
    ]
    assert effective_price(item(), others, NOW).effective_price == 10_000
    assert (
        effective_price(
            item(), [discount(value=50, ends_at=NOW + timedelta(seconds=1))], NOW
        ).effective_price
        == 5_000
    )


async def test_discounts_price_product_answers(app: Any, client: httpx.AsyncClient) -> None:
    boss = await admin(app, client)
    owner = await person(client)
    await approved_store(client, owner, boss)
    product = await client.post(
        "/products",
        json={"title": "Zobo", "sku": "Z", "price": 999, "status": "active"},
        headers=owner.headers,
    )
    pid = product.json()["id"]
    created = await client.post(
        "/vendors/me/discounts",
        json={"type": "percentage", "value": 15, "scope": "product", "target_id": pid},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    coded = await client.post(
        "/vendors/me/discounts",
        json={"type": "fixed", "value": 500, "scope": "store", "code": "WELCOME"},
        headers=owner.headers,
    )
    assert coded.status_code == 201
    again = await client.post(
        "/vendors/me/discounts",
        json={"type": "fixed", "value": 1, "scope": "store", "code": "WELCOME"},
        headers=owner.headers,
    )
    assert (again.status_code, error_code(again)) == (409, "discount_code_taken")
    for bad in (
        {"type": "percentage", "value": 101, "scope": "store"},
        {"type": "fixed", "value": 1, "scope": "product"},
        {"type": "fixed", "value": 1, "scope": "store", "target_id": pid},
        {"type": "fixed", "value": 0, "scope": "store"},
        # A number is not a date-time (pydantic's lax mode read it as Unix time).
        {"type": "fixed", "value": 1, "scope": "store", "starts_at": 1700000000},
        {"type": "fixed", "value": 1, "scope": "store", "ends_at": "1700000000"},
    ):
        response = await client.post("/vendors/me/discounts", json=bad, headers=owner.headers)
        assert response.status_code == 422, bad
    stranger = await person(client)
    await approved_store(client, stranger, boss, "Other")
    foreign = await client.post(
        "/vendors/me/discounts",
        json={"type": "fixed", "value": 1, "scope": "product", "target_id": pid},
        headers=stranger.headers,
    )
    assert (foreign.status_code, error_code(foreign)) == (404, "product_not_found")
    assert await count(app, "discount") == 2
    shown = (await client.get(f"/products/{pid}")).json()
    variant = shown["variants"][0]
    assert (variant["price"], variant["effective_price"]) == (999, 849)
    assert variant["discount"] == {"ids": [created.json()["id"]], "amount": 150}
    assert shown["effective_price"] == 849
    listed = (await client.get("/products")).json()["items"][0]
    assert listed["effective_price"] == 849
    listing = (await client.get("/vendors/me/discounts", headers=owner.headers)).json()
    assert sorted(d["code"] or "" for d in listing) == ["", "WELCOME"]


async def test_variant_answers_are_priced_too(app: Any, client: httpx.AsyncClient) -> None:
    owner = await person(client)
    await approved_store(client, owner, await admin(app, client))
    await client.post(
        "/vendors/me/discounts",
        json={"type": "fixed", "value": 100, "scope": "store"},
        headers=owner.headers,
    )
    product = (
        await client.post(
            "/products", json={"title": "T", "sku": "A", "price": 1000}, headers=owner.headers
        )
    ).json()
    assert product["variants"][0]["effective_price"] == 900
    added = await client.post(
        f"/products/{product['id']}/variants", json={"sku": "B", "price": 50}, headers=owner.headers
    )
    assert (added.json()["effective_price"], added.json()["discount"]["amount"]) == (0, 50)
    changed = await client.patch(
        f"/products/{product['id']}/variants/{added.json()['id']}",
        json={"price": 2000},
        headers=owner.headers,
    )
    assert changed.json()["effective_price"] == 1900
    shown = await client.get(f"/products/{product['id']}", headers=owner.headers)
    assert [v["effective_price"] for v in shown.json()["variants"]] == [900, 1900]
