"""``GET /orders/{id}/events``: server-sent events of an order, for whom its authorizer allows."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from oja.realtime import audiences
from tests.realtime.conftest import Person, Served, person, publish_event

ORDER = uuid.UUID("01900000-0000-7000-8000-000000000001")


@pytest.fixture
def buyer_of_order() -> Iterator[dict[str, str]]:
    """A fake ``order`` authorizer, as the marketplace would register: the buyer it names watches
    :data:`ORDER`."""
    allowed: dict[str, str] = {}

    async def buyer_only(_session: object, user_id: uuid.UUID, order_id: str) -> bool:
        return allowed.get(order_id) == str(user_id)

    audiences.register_authorizer("order", buyer_only)  # type: ignore[arg-type]
    yield allowed
    audiences.unregister_authorizer("order")


async def frames(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, Any]]:
    """Each event of the stream as ``{id, event, data}``; comments and ``retry`` skipped."""
    fields: dict[str, str] = {}
    async for line in lines:
        if line:
            name, _, value = line.partition(": ")
            fields[name] = value
        elif "event" in fields:
            yield {
                "id": int(fields["id"]),
                "event": fields["event"],
                "data": json.loads(fields["data"]),
            }
            fields = {}
        else:
            fields = {}


async def next_frame(stream: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    return await asyncio.wait_for(anext(stream), timeout=10)


def _watch(served: Served, who: Person, **headers: str) -> Any:
    return served.client.stream(
        "GET", f"/orders/{ORDER}/events", headers={**who.headers, **headers}
    )


async def test_the_buyer_receives_the_orders_events_and_resumes_after_the_last_id(
    served: Served, buyer_of_order: dict[str, str]
) -> None:
    ada = await person(served.client)
    buyer_of_order[str(ORDER)] = ada.id
    topic = f"order:{ORDER}"
    async with _watch(served, ada) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.aiter_lines()
        assert await anext(lines) == "retry: 2000"
        stream = frames(lines)
        first = await publish_event(served.app, "order.updated", {"status": "confirmed"}, [topic])
        await publish_event(served.app, "order.updated", {"status": "other"}, ["order:elsewhere"])
        second = await publish_event(served.app, "order.updated", {"status": "shipped"}, [topic])
        assert await next_frame(stream) == {
            "id": first.id,
            "event": "order.updated",
            "data": {"status": "confirmed"},
        }
        assert (await next_frame(stream))["id"] == second.id
    missed = await publish_event(served.app, "order.updated", {"status": "delivered"}, [topic])
    async with _watch(served, ada, **{"Last-Event-ID": str(second.id)}) as response:
        stream = frames(response.aiter_lines())
        assert await next_frame(stream) == {
            "id": missed.id,
            "event": "order.updated",
            "data": {"status": "delivered"},
        }


async def test_an_order_the_authorizer_refuses_answers_404(
    served: Served, buyer_of_order: dict[str, str]
) -> None:
    ada, bola = await person(served.client), await person(served.client)
    buyer_of_order[str(ORDER)] = ada.id
    response = await served.client.get(f"/orders/{ORDER}/events", headers=bola.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "realtime_stream_not_found"
    assert (await served.client.get(f"/orders/{ORDER}/events")).status_code == 401


async def test_without_a_registered_authorizer_every_order_stream_answers_404(
    served: Served,
) -> None:
    ada = await person(served.client)
    response = await served.client.get(f"/orders/{ORDER}/events", headers=ada.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "realtime_stream_not_found"


async def test_an_event_source_signs_in_with_a_ticket_and_resumes_by_query(
    served: Served, buyer_of_order: dict[str, str]
) -> None:
    ada = await person(served.client)
    buyer_of_order[str(ORDER)] = ada.id
    topic = f"order:{ORDER}"
    seen = await publish_event(served.app, "order.updated", {"status": "confirmed"}, [topic])
    missed = await publish_event(served.app, "order.updated", {"status": "shipped"}, [topic])
    ticket = await served.ticket(ada)
    path = f"/orders/{ORDER}/events?ticket={ticket}&last_event_id={seen.id}"
    async with served.client.stream("GET", path) as response:  # no Authorization header
        assert response.status_code == 200
        assert (await next_frame(frames(response.aiter_lines())))["id"] == missed.id
    again = await served.client.get(path)
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "invalid_token"
