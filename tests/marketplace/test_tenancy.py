"""Tenancy, exhaustively: every vendor route × {vendor A, vendor B, buyer, admin, anonymous},
with the exact status each must answer. Another vendor's object is a 404, never a 403."""

from __future__ import annotations

from typing import Any

import httpx

from . import world as matrix


async def test_authorization_matrix(app: Any, client: httpx.AsyncClient) -> None:
    world = await matrix.build(app, client)
    await matrix.add_orders(app, client, world)
    await matrix.with_review(app, client, world)
    cases = (
        matrix.vendor_cases(world)
        + matrix.catalog_cases(world)
        + matrix.order_cases(world)
        + matrix.import_cases(world)
        + matrix.buyer_cases(world)
        + matrix.review_cases(world)
        + matrix.closing_cases()
    )
    expected: dict[tuple[str, str, str], int] = {}
    actual: dict[tuple[str, str, str], int] = {}
    for case in cases:
        for who in matrix.PRINCIPALS:
            response = await matrix.call(client, world, case, who)
            key = (case.method, case.path, who)
            expected[key] = case.expected[who]
            actual[key] = response.status_code
    assert actual == expected
