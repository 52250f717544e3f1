"""The WebSocket: who receives what, tickets, origins, token subprotocols, replay on reconnect."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from oja.core.clock import utcnow
from oja.core.db import unit_of_work
from oja.core.runtime import running
from oja.realtime import audiences, publish
from tests.conftest import LogCapture, use_settings
from tests.marketplace.conftest import count, rows
from tests.realtime.conftest import Served, person, publish_event, receive


async def drain_socket(ws: ClientConnection) -> None:
    """Read until the server closes the socket (which raises)."""
    while True:
        await receive(ws)


async def test_a_users_socket_receives_its_events_and_another_users_nothing(
    served: Served,
) -> None:
    ada, bola = await person(served.client), await person(served.client)
    async with await served.socket_of(ada) as ada_ws, await served.socket_of(bola) as bola_ws:
        event = await publish_event(
            served.app, "order.updated", {"status": "shipped"}, [f"user:{ada.id}"]
        )
        assert await receive(ada_ws) == {
            "id": event.id,
            "event": "order.updated",
            "data": {"status": "shipped"},
            "created_at": event.created_at.isoformat(),
        }
        # Bola's first message is Bola's own later event: Ada's never reached Bola's socket.
        later = await publish_event(served.app, "order.updated", {"n": 2}, [f"user:{bola.id}"])
        assert (await receive(bola_ws))["id"] == later.id
    assert await count(served.app, "realtime_event", "pushed_at IS NULL") == 0


async def test_the_staff_of_a_store_receive_its_events_through_the_registered_resolver(
    served: Served,
) -> None:
    owner, clerk, stranger = [await person(served.client) for _ in range(3)]
    staff = {owner.id, clerk.id}

    async def vendor_topics(_session: object, user_id: object) -> list[str]:
        return ["vendor:v1"] if str(user_id) in staff else []

    audiences.register_user_topics(vendor_topics)  # type: ignore[arg-type]
    try:
        sockets = [await served.socket_of(p) for p in (owner, clerk, stranger)]
        event = await publish_event(served.app, "order.updated", {"n": 1}, ["vendor:v1"])
        assert (await receive(sockets[0]))["id"] == event.id
        assert (await receive(sockets[1]))["id"] == event.id
        mine = await publish_event(served.app, "order.updated", {}, [f"user:{stranger.id}"])
        assert (await receive(sockets[2]))["id"] == mine.id
        for ws in sockets:
            await ws.close()
    finally:
        audiences.unregister_user_topics(vendor_topics)  # type: ignore[arg-type]


async def test_a_ticket_is_single_use(served: Served) -> None:
    ada = await person(served.client)
    ticket = await served.ticket(ada)
    async with await served.connect(f"?ticket={ticket}"):
        pass
    with pytest.raises(InvalidStatus) as refused:
        await served.connect(f"?ticket={ticket}")
    assert refused.value.response.status_code == 403


async def test_an_expired_or_unknown_ticket_or_none_is_refused(served: Served) -> None:
    ada = await person(served.client)
    ticket = await served.ticket(ada)
    async with served.app.state.runtime.database.engine.begin() as conn:
        await conn.execute(
            text("UPDATE realtime_ticket SET expires_at = :past"),
            {"past": utcnow() - timedelta(seconds=1)},
        )
    for query in (f"?ticket={ticket}", "?ticket=made-up", ""):
        with pytest.raises(InvalidStatus) as refused:
            await served.connect(query)
        assert refused.value.response.status_code == 403
    # The expired ticket was not spent by the refusal.
    assert await count(served.app, "realtime_ticket", "used_at IS NULL") == 1


async def test_a_ticket_needs_a_signed_in_user(served: Served) -> None:
    response = await served.client.post("/ws/ticket")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_credentials"
    assert await count(served.app, "realtime_ticket") == 0


async def test_origins_other_than_the_allowed_ones_and_the_apis_own_are_refused(
    served: Served,
) -> None:
    use_settings(served.app, cors_origins=["https://shop.example"])
    ada = await person(served.client)
    ticket = await served.ticket(ada)
    with pytest.raises(InvalidStatus) as refused:
        await served.connect(f"?ticket={ticket}", origin="https://evil.example")
    assert refused.value.response.status_code == 403
    # The refusal came before the ticket was looked at: it is still good, from an allowed origin.
    async with await served.connect(f"?ticket={ticket}", origin="https://shop.example"):
        pass
    own = served.url
    async with await served.connect(f"?ticket={await served.ticket(ada)}", origin=own):
        pass


async def test_the_access_token_as_subprotocol_authenticates_and_is_echoed(
    served: Served,
) -> None:
    ada = await person(served.client)
    token = ada.headers["Authorization"].removeprefix("Bearer ")
    async with await served.connect(subprotocols=[token]) as ws:
        assert ws.subprotocol == token
        event = await publish_event(served.app, "order.updated", {}, [f"user:{ada.id}"])
        assert (await receive(ws))["id"] == event.id
    with pytest.raises(InvalidStatus) as refused:
        await served.connect(subprotocols=["not-a-token"])
    assert refused.value.response.status_code == 403
    await served.client.post("/auth/logout", headers=ada.headers)
    with pytest.raises(InvalidStatus) as signed_out:
        await served.connect(subprotocols=[token])
    assert signed_out.value.response.status_code == 403


async def test_reconnecting_with_the_last_event_id_replays_exactly_what_was_missed(
    served: Served,
) -> None:
    ada, bola = await person(served.client), await person(served.client)
    mine = f"user:{ada.id}"
    async with await served.socket_of(ada) as ws:
        await publish_event(served.app, "order.updated", {"n": 1}, [mine])
        seen = await receive(ws)
    missed = [await publish_event(served.app, "order.updated", {"n": n}, [mine]) for n in (2, 3)]
    await publish_event(served.app, "order.updated", {"n": "bola"}, [f"user:{bola.id}"])
    async with await served.socket_of(ada, f"last_event_id={seen['id']}") as ws:
        assert [(await receive(ws))["id"] for _ in missed] == [e.id for e in missed]
        live = await publish_event(served.app, "order.updated", {"n": 4}, [mine])
        assert (await receive(ws))["id"] == live.id
    # Sent as the first message instead of in the URL: the same replay.
    async with await served.socket_of(ada) as ws:
        await ws.send(f'{{"last_event_id": {seen["id"]}}}')
        replayed = [(await receive(ws))["data"]["n"] for _ in range(3)]
        assert replayed == [2, 3, 4]


async def test_a_replay_longer_than_the_bound_says_so_and_sends_the_newest(
    served: Served,
) -> None:
    use_settings(served.app, realtime_replay_max=2)
    ada = await person(served.client)
    events = [
        await publish_event(served.app, "order.updated", {"n": n}, [f"user:{ada.id}"])
        for n in range(4)
    ]
    async with await served.socket_of(ada, "last_event_id=0") as ws:
        notice = await receive(ws)
        assert (notice["id"], notice["event"], notice["data"]) == (
            0,
            "realtime.truncated",
            {"after": 0},
        )
        assert [(await receive(ws))["id"] for _ in range(2)] == [e.id for e in events[2:]]


async def test_a_socket_subscribes_to_what_the_authorizer_allows(served: Served) -> None:
    ada, bola = await person(served.client), await person(served.client)

    async def buyer_only(_session: object, user_id: object, order_id: str) -> bool:
        return str(user_id) == ada.id and order_id == "o1"

    audiences.register_authorizer("order", buyer_only)  # type: ignore[arg-type]
    try:
        async with await served.socket_of(ada) as ada_ws, await served.socket_of(bola) as bola_ws:
            await ada_ws.send('{"subscribe": "order:o1"}')
            assert (await receive(ada_ws))["event"] == "realtime.subscribed"
            await bola_ws.send('{"subscribe": "order:o1"}')
            refusal = await receive(bola_ws)
            assert (refusal["event"], refusal["data"]) == (
                "realtime.refused",
                {"topic": "order:o1"},
            )
            event = await publish_event(served.app, "order.updated", {}, ["order:o1"])
            assert (await receive(ada_ws))["id"] == event.id
    finally:
        audiences.unregister_authorizer("order")


async def test_the_ticket_never_reaches_the_logs(served: Served, log_output: LogCapture) -> None:
    ada = await person(served.client)
    ticket = await served.ticket(ada)
    async with await served.connect(f"?ticket={ticket}"):
        pass
    capture = log_output
    accepted = [e["event"] for e in capture.events() if "[accepted]" in e["event"]]
    assert accepted == [accepted[0]]
    assert accepted[0].endswith('"WebSocket /ws?ticket=***" [accepted]')
    assert ticket not in capture.text
    assert await rows(served.app, "SELECT 1 FROM realtime_ticket WHERE used_at IS NOT NULL")


async def test_a_client_too_far_behind_is_closed_to_resume_by_its_last_id(
    served: Served,
) -> None:
    use_settings(served.app, realtime_queue_size=2)
    ada = await person(served.client)
    async with await served.socket_of(ada) as ws:
        with running(served.app.state.runtime):
            async with unit_of_work(served.app.state.runtime.database) as session:
                for n in range(5):
                    await publish(session, "order.updated", {"n": n}, [f"user:{ada.id}"])
        with pytest.raises(ConnectionClosed) as closed:
            await drain_socket(ws)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1013
    # Resuming from before the first event replays all five.
    async with await served.socket_of(ada, "last_event_id=0") as ws:
        assert [(await receive(ws))["data"]["n"] for _ in range(5)] == [0, 1, 2, 3, 4]
