"""Order updates as the marketplace publishes them: a store order's move reaches the buyer's socket
and the store staff's, and no one else's (oja.marketplace.orders.live over oja.realtime)."""

from __future__ import annotations

from typing import Any

from oja.marketplace.orders.models import OrderStatus
from tests.marketplace.orders_kit import place, shop

from .conftest import Served, person, publish_event, receive


async def test_an_order_update_reaches_its_buyer_and_its_store_and_no_one_else(
    served: Served,
) -> None:
    store = await shop(served.app, served.client)
    stranger = await person(served.client)
    placed = await place(served.app, None, store, [(0, 1)], status=OrderStatus.pending, paid=False)
    async with (
        await served.socket_of(store.buyer) as buyer_ws,
        await served.socket_of(store.owner) as store_ws,
        await served.socket_of(stranger) as stranger_ws,
    ):
        moved = await served.client.post(
            f"/vendors/me/orders/{placed.order_id}/confirm", headers=store.owner.headers
        )
        assert moved.status_code == 200, moved.text
        heard: list[dict[str, Any]] = [await receive(buyer_ws), await receive(store_ws)]
        assert heard[0] == heard[1]  # one event, addressed to both topics
        assert heard[0]["event"] == "order.updated"
        data = heard[0]["data"]
        assert {k: data[k] for k in ("order_id", "group_id", "vendor_id")} == {
            "order_id": placed.order_id,
            "group_id": placed.group_id,
            "vendor_id": store.store["id"],
        }
        assert (data["from_status"], data["status"]) == ("pending", "confirmed")
        # The stranger's first message is their own later event: the order's never reached them.
        later = await publish_event(served.app, "ping", {}, [f"user:{stranger.id}"])
        assert (await receive(stranger_ws))["id"] == later.id


async def test_a_rejected_move_pushes_nothing(served: Served) -> None:
    store = await shop(served.app, served.client)
    placed = await place(served.app, None, store, [(0, 1)], status=OrderStatus.pending, paid=False)
    async with await served.socket_of(store.buyer) as buyer_ws:
        refused = await served.client.post(
            f"/vendors/me/orders/{placed.order_id}/deliver", headers=store.owner.headers
        )
        assert refused.status_code == 409, refused.text
        later = await publish_event(served.app, "ping", {}, [f"user:{store.buyer.id}"])
        assert (await receive(buyer_ws))["id"] == later.id
