"""Concurrent adds of one variant by one buyer: one line, every unit counted, and each answer
shows the quantity its own upsert left (the cart answered from the upsert's RETURNING, not from a
read that another add could overtake). Proven on PostgreSQL (SQLite serialises every writer)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from .conftest import count, person, rows
from .shop import add, paystack, paystack_server, settings, shop

__all__ = ["paystack", "paystack_server", "settings"]


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_twenty_concurrent_adds_count_once_each(
    app: Any, client: httpx.AsyncClient, database_url: str
) -> None:
    store = await shop(app, client, "Busy", [{"sku": "HOT", "price": 700, "stock": 3}])
    buyer = await person(client)
    variant_id = store.variant()["id"]
    answers = await asyncio.gather(*(add(client, buyer, variant_id) for _ in range(20)))
    assert [a.status_code for a in answers] == [201] * 20
    quantities = [a.json()["stores"][0]["lines"][0]["quantity"] for a in answers]
    assert sorted(quantities) == list(range(1, 21))
    assert {len(a.json()["stores"][0]["lines"]) for a in answers} == {1}
    assert await count(app, "cart_item") == 1
    assert await rows(app, "SELECT quantity, price_seen FROM cart_item") == [(20, 700)]
    cart = (await client.get("/cart", headers=buyer.headers)).json()
    assert (cart["item_count"], cart["total"], cart["changes"]["stock_changed"]) == (
        20,
        14000,
        [cart["stores"][0]["lines"][0]["id"]],
    )
