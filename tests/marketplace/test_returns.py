"""Returns: only after delivery and within the window, never more units than were bought (even
asked for twice at once), decided once, received with or without restocking."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest

from oja.core.clock import utcnow
from oja.core.db import unit_of_work
from oja.core.runtime import running
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.orders.models import OrderStatus
from oja.marketplace.search import service as search_service
from oja.sandbox.paystack import PaystackFake
from tests.conftest import use_settings

from . import orders_kit
from .conftest import count, error_code, rows
from .orders_kit import Heard, Placed, Shop, place, shop, stock_of

paystack_server, paystack, settings, heard = (
    orders_kit.paystack_server,
    orders_kit.paystack,
    orders_kit.settings,
    orders_kit.heard,
)


def body(placed: Placed, *quantities: int, reason: str = "Too small") -> dict[str, Any]:
    return {
        "lines": [
            {"order_line_id": line_id, "quantity": q}
            for line_id, q in zip(placed.line_ids, quantities, strict=False)
            if q
        ],
        "reason": reason,
    }


async def ask(
    client: httpx.AsyncClient, store: Shop, placed: Placed, *quantities: int
) -> httpx.Response:
    return await client.post(
        f"/orders/{placed.order_id}/returns",
        json=body(placed, *quantities),
        headers=store.buyer.headers,
    )


async def test_a_return_is_asked_for_after_delivery_within_the_window(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, heard: Heard
) -> None:
    store = await shop(app, client)
    shipped = await place(app, paystack, store, [(0, 1)], status=OrderStatus.shipped)
    early = await ask(client, store, shipped, 1)
    assert early.status_code == 409
    assert error_code(early) == "invalid_order_transition"

    old = await place(
        app,
        paystack,
        store,
        [(0, 1)],
        status=OrderStatus.delivered,
        delivered_at=utcnow() - timedelta(days=15),
    )
    late = await ask(client, store, old, 1)
    assert late.status_code == 409
    assert error_code(late) == "return_window_closed"
    assert await count(app, "return_request") == 0

    use_settings(app, return_window_days=30)
    in_time = await ask(client, store, old, 1)
    assert in_time.status_code == 201, in_time.text
    answer = in_time.json()
    assert answer["status"] == "requested"
    assert answer["reason"] == "Too small"
    assert answer["lines"] == [
        {"order_line_id": old.line_ids[0], "quantity": 1, "amount": 1000, "restock": None}
    ]
    assert answer["amount"] == 1000
    [requested] = heard.of("return.requested")
    assert str(requested["return_id"]) == answer["id"]
    assert {str(r) for r in requested["recipient_ids"]} == {store.buyer.id, store.owner.id}
    assert requested["amount"] == 1000
    seen = await client.get(f"/orders/{old.order_id}", headers=store.buyer.headers)
    assert [r["id"] for r in seen.json()["returns"]] == [answer["id"]]
    assert seen.json()["lines"][0]["returned_quantity"] == 1


async def test_never_more_units_than_bought(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake
) -> None:
    store = await shop(app, client)
    placed = await place(app, paystack, store, [(0, 3), (1, 1)], status=OrderStatus.delivered)
    assert (await ask(client, store, placed, 4)).status_code == 409
    first = await ask(client, store, placed, 2, 1)
    assert first.status_code == 201, first.text
    over = await ask(client, store, placed, 2)
    assert over.status_code == 409
    assert error_code(over) == "return_quantity_exceeded"
    both = await ask(client, store, placed, 1, 1)  # the second line is all taken: nothing kept
    assert both.status_code == 409
    assert await count(app, "return_request") == 1
    assert await count(app, "return_line") == 2

    rejected = await client.post(
        f"/vendors/me/returns/{first.json()['id']}/reject",
        json={"note": "worn"},
        headers=store.owner.headers,
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["decision_note"] == "worn"
    again = await ask(client, store, placed, 3)  # a rejection gives the units back
    assert again.status_code == 201, again.text

    foreign = await client.post(
        f"/orders/{placed.order_id}/returns",
        json={"lines": [{"order_line_id": placed.group_id, "quantity": 1}], "reason": "x"},
        headers=store.buyer.headers,
    )
    assert foreign.status_code == 422
    assert error_code(foreign) == "order_line_not_found"


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_concurrent_requests_never_return_more_than_bought(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake
) -> None:
    store = await shop(app, client)
    placed = await place(app, paystack, store, [(0, 3)], status=OrderStatus.delivered)
    answers = await asyncio.gather(*(ask(client, store, placed, 2) for _ in range(6)))
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409, 409, 409]
    assert await count(app, "return_request") == 1
    [(returned,)] = await rows(app, "SELECT returned_quantity FROM order_line")
    assert returned == 2


async def test_approve_receive_restock_and_the_order_comes_back(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, heard: Heard
) -> None:
    store = await shop(app, client)
    placed = await place(app, paystack, store, [(0, 2), (1, 1)], status=OrderStatus.delivered)
    stocks = (await stock_of(client, store, 0), await stock_of(client, store, 1))
    assert stocks == (8, 9)
    # The order was written delivered (no payment event counted it): a rebuild reads its units.
    with running(app.state.runtime):
        async with unit_of_work(app.state.runtime.database) as db:
            await search_service.rebuild(db)
    sales = "SELECT sales FROM search_document"
    assert await rows(app, sales) == [(3,)]
    first = (await ask(client, store, placed, 2)).json()
    base = f"/vendors/me/returns/{first['id']}"
    early = await client.post(f"{base}/receive", headers=store.owner.headers)
    assert early.status_code == 409
    assert error_code(early) == "invalid_return_transition"
    listed = await client.get("/vendors/me/returns?status=requested", headers=store.owner.headers)
    assert [r["id"] for r in listed.json()["items"]] == [first["id"]]
    for _ in range(2):
        approved = await client.post(f"{base}/approve", headers=store.owner.headers)
        assert approved.status_code == 200, approved.text
    assert (await client.post(f"{base}/reject", headers=store.owner.headers)).status_code == 409
    for _ in range(2):
        received = await client.post(f"{base}/receive", json={}, headers=store.owner.headers)
        assert received.status_code == 200, received.text
    assert received.json()["status"] == "received"
    assert received.json()["lines"][0]["restock"] is True
    assert await stock_of(client, store, 0) == 10
    assert await rows(app, sales) == [(1,)]  # received units leave the sales, once
    order = (await client.get(f"/orders/{placed.order_id}", headers=store.buyer.headers)).json()
    assert order["status"] == "delivered"  # the second line is still with the buyer
    assert [(r["source"], r["source_id"], r["amount"]) for r in order["refunds"]] == [
        ("return", first["id"], 2000)
    ]

    second = (await ask(client, store, placed, 0, 1)).json()
    base = f"/vendors/me/returns/{second['id']}"
    await client.post(f"{base}/approve", headers=store.owner.headers)
    kept = await client.post(
        f"{base}/receive",
        json={"lines": [{"order_line_id": placed.line_ids[1], "restock": False}]},
        headers=store.owner.headers,
    )
    assert kept.status_code == 200, kept.text
    assert kept.json()["lines"][0]["restock"] is False
    assert await stock_of(client, store, 1) == 9  # damaged goods stay out of stock
    assert await rows(app, sales) == [(0,)]
    order = (await client.get(f"/orders/{placed.order_id}", headers=store.buyer.headers)).json()
    assert order["status"] == "returned"
    assert [(t["from_status"], t["to_status"]) for t in order["transitions"]] == [
        ("delivered", "returned")
    ]
    assert order["refunded_amount"] == 2000 + 2500 == order["total"]
    moved = await rows(
        app, "SELECT delta FROM stock_movement WHERE reason = 'return_received' ORDER BY delta"
    )
    assert [m[0] for m in moved] == [2]
    assert [n for n in heard.names() if n.startswith("return.")] == [
        "return.requested",
        "return.approved",
        "return.received",
        "return.requested",
        "return.approved",
        "return.received",
    ]
    assert heard.names().count("order.returned") == 1


async def test_other_stores_and_buyers_cannot_touch_a_return(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake
) -> None:
    a = await shop(app, client, "Store A")
    b = await shop(app, client, "Store B")
    placed = await place(app, paystack, a, [(0, 1)], status=OrderStatus.delivered)
    made = (await ask(client, a, placed, 1)).json()
    for action in ("approve", "reject", "receive"):
        answer = await client.post(
            f"/vendors/me/returns/{made['id']}/{action}", headers=b.owner.headers
        )
        assert answer.status_code == 404
        assert error_code(answer) == "return_not_found"
    assert (await client.get("/vendors/me/returns", headers=b.owner.headers)).json()["total"] == 0
    stolen = await client.post(
        f"/orders/{placed.order_id}/returns", json=body(placed, 1), headers=b.buyer.headers
    )
    assert stolen.status_code == 404
    [(status,)] = await rows(app, "SELECT status FROM return_request")
    assert status == "requested"


def test_the_window_and_the_reservation_are_read_from_their_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert (
        MarketplaceSettings().return_window_days,
        MarketplaceSettings().reservation_minutes,
    ) == (
        14,
        30,
    )
    monkeypatch.setenv("OJA_MARKETPLACE_RETURN_WINDOW_DAYS", "7")
    monkeypatch.setenv("OJA_MARKETPLACE_RESERVATION_MINUTES", "45")
    assert (
        MarketplaceSettings().return_window_days,
        MarketplaceSettings().reservation_minutes,
    ) == (
        7,
        45,
    )
