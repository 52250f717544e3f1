"""Stock: set or adjust, never below zero, every change a movement, threshold crossings announced."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from oja.core import events
from oja.marketplace.inventory.service import BACK_IN_STOCK, LOW_STOCK

from .conftest import Person, count, error_code, open_store, person, rows


class Announced:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    async def low(self, **payload: Any) -> None:
        self.seen.append((LOW_STOCK, payload["stock"]))

    async def back(self, **payload: Any) -> None:
        self.seen.append((BACK_IN_STOCK, payload["stock"]))


@pytest.fixture
def announced() -> Iterator[Announced]:
    recorder = Announced()
    events.subscribe(LOW_STOCK, recorder.low)
    events.subscribe(BACK_IN_STOCK, recorder.back)
    yield recorder
    events._handlers[LOW_STOCK].remove(recorder.low)
    events._handlers[BACK_IN_STOCK].remove(recorder.back)


async def _variant(
    client: httpx.AsyncClient, owner: Person, stock: int, threshold: int = 5
) -> tuple[str, str]:
    response = await client.post(
        "/products",
        json={
            "title": "Zobo",
            "sku": f"Z-{stock}-{threshold}",
            "price": 100,
            "stock": stock,
            "low_stock_threshold": threshold,
        },
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["variants"][0]["id"]


async def test_set_and_adjust_record_movements(
    app: Any, client: httpx.AsyncClient, announced: Announced
) -> None:
    owner = await person(client)
    await open_store(client, owner)
    product_id, variant_id = await _variant(client, owner, stock=10)
    url = f"/products/{product_id}/variants/{variant_id}/stock"
    down = await client.post(
        url, json={"adjust": -4, "reason": "sold offline"}, headers=owner.headers
    )
    assert down.status_code == 200
    assert down.json() == {
        "variant_id": variant_id,
        "stock": 6,
        "low_stock_threshold": 5,
        "stock_status": "in_stock",
        "movement": {"before": 10, "after": 6, "delta": -4, "reason": "sold offline"},
    }
    low = await client.post(url, json={"adjust": -1}, headers=owner.headers)
    assert (low.json()["stock"], low.json()["stock_status"]) == (5, "low")
    still_low = await client.post(url, json={"adjust": -2}, headers=owner.headers)
    assert still_low.json()["stock"] == 3
    out = await client.post(url, json={"set": 0}, headers=owner.headers)
    assert (out.json()["stock_status"], out.json()["movement"]["delta"]) == ("out", -3)
    same = await client.post(url, json={"set": 0}, headers=owner.headers)
    assert same.json()["movement"] is None
    back = await client.post(url, json={"set": 20, "reason": "restock"}, headers=owner.headers)
    assert back.json()["stock"] == 20
    assert announced.seen == [(LOW_STOCK, 5), (BACK_IN_STOCK, 20)]
    # The names the notification service subscribes to (issue 21).
    assert (LOW_STOCK, BACK_IN_STOCK) == ("inventory.low_stock", "inventory.back_in_stock")
    movements = await rows(
        app,
        "SELECT stock_before, stock_after, delta, reason FROM stock_movement ORDER BY created_at, id",
    )
    assert [tuple(m) for m in movements] == [
        (0, 10, 10, "initial stock"),
        (10, 6, -4, "sold offline"),
        (6, 5, -1, None),
        (5, 3, -2, None),
        (3, 0, -3, None),
        (0, 20, 20, "restock"),
    ]
    inventory = (await client.get("/vendors/me/inventory", headers=owner.headers)).json()
    assert [(i["sku"], i["stock"], i["stock_status"]) for i in inventory["items"]] == [
        ("Z-10-5", 20, "in_stock")
    ]


async def test_refused_adjustment_changes_nothing(
    app: Any, client: httpx.AsyncClient, announced: Announced
) -> None:
    owner = await person(client)
    await open_store(client, owner)
    product_id, variant_id = await _variant(client, owner, stock=2)
    url = f"/products/{product_id}/variants/{variant_id}/stock"
    refused = await client.post(url, json={"adjust": -3}, headers=owner.headers)
    assert (refused.status_code, error_code(refused)) == (409, "insufficient_stock")
    assert refused.json()["error"]["details"] == {"stock": 2, "adjust": -3}
    for body in ({"set": -1}, {"adjust": 0}, {"set": 1, "adjust": 1}, {}):
        assert (await client.post(url, json=body, headers=owner.headers)).status_code == 422
    other = f"/products/{product_id}/variants/{product_id}/stock"
    missing = await client.post(other, json={"adjust": 1}, headers=owner.headers)
    assert (missing.status_code, error_code(missing)) == (404, "variant_not_found")
    assert await count(app, "stock_movement") == 1
    assert await rows(app, "SELECT stock FROM product_variant") == [(2,)]
    assert announced.seen == []


# A race: proven on PostgreSQL only (SQLite serialises every writer).
@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_fifty_concurrent_decrements_on_thirty(
    app: Any, client: httpx.AsyncClient, database_url: str
) -> None:
    owner = await person(client)
    await open_store(client, owner)
    product_id, variant_id = await _variant(client, owner, stock=30, threshold=0)
    url = f"/products/{product_id}/variants/{variant_id}/stock"
    responses = await asyncio.gather(
        *(client.post(url, json={"adjust": -1}, headers=owner.headers) for _ in range(50))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 30 + [409] * 20
    assert {error_code(r) for r in responses if r.status_code == 409} == {"insufficient_stock"}
    assert await rows(app, "SELECT stock FROM product_variant") == [(0,)]
    assert await count(app, "stock_movement", "delta = -1") == 30
    assert await count(app, "stock_movement") == 31
