from __future__ import annotations

from typing import Any

from oja.core import events


async def test_handlers_receive_the_payload_in_order_and_once() -> None:
    seen: list[tuple[str, Any]] = []

    async def first(*, document_id: str) -> None:
        seen.append(("first", document_id))

    async def second(*, document_id: str) -> None:
        seen.append(("second", document_id))

    events.subscribe("tests.thing.happened", first)
    events.subscribe("tests.thing.happened", second)
    events.subscribe("tests.thing.happened", first)  # idempotent
    assert await events.emit("tests.thing.happened", document_id="d1") == 2
    assert seen == [("first", "d1"), ("second", "d1")]


async def test_an_event_nobody_listens_to_is_fine() -> None:
    assert await events.emit("tests.nobody.listens", x=1) == 0
