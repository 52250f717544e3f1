"""Seed 000 task 1 as a client written from it reads a payment: `status` is one of
`success|failed|pending`, whatever Paystack said; Paystack's own word is in `provider_status`."""

from __future__ import annotations

import httpx
import pytest

from oja.sandbox.paystack import PaystackFake
from tests.billing.conftest import auth, initiate, new_user


async def status_of(
    client: httpx.AsyncClient, user: dict[str, str], reference: str, *, refresh: bool
) -> tuple[str, str]:
    query = "?refresh=true" if refresh else ""
    response = await client.get(f"/payments/{reference}/status{query}", headers=auth(user))
    assert response.status_code == 200, response.text
    body = response.json()
    return body["status"], body["provider_status"]


@pytest.mark.parametrize(
    ("paystack_says", "seen"),
    [
        # A checkout the payer has not completed (still open, or left): it can still be paid.
        ("abandoned", ("pending", "abandoned")),
        ("ongoing", ("pending", "pending")),
        ("processing", ("pending", "pending")),
        ("queued", ("pending", "pending")),
        ("failed", ("failed", "failed")),
        ("success", ("success", "success")),
    ],
)
async def test_status_is_one_of_the_seeds_three_values(
    client: httpx.AsyncClient, paystack: PaystackFake, paystack_says: str, seen: tuple[str, str]
) -> None:
    user = await new_user(client)
    started = await initiate(client, user)
    assert started.status_code == 201, started.text
    assert (started.json()["status"], started.json()["provider_status"]) == ("pending", "pending")
    reference = started.json()["reference"]

    if paystack_says == "success":
        paystack.settle(reference, "success")  # with its paid_at, as Paystack reports it
    else:
        paystack.transactions[reference].status = paystack_says
    assert await status_of(client, user, reference, refresh=True) == seen
    assert await status_of(client, user, reference, refresh=False) == seen


async def test_an_abandoned_checkout_that_is_paid_later_is_a_success(
    client: httpx.AsyncClient, paystack: PaystackFake
) -> None:
    user = await new_user(client)
    reference = (await initiate(client, user)).json()["reference"]
    assert await status_of(client, user, reference, refresh=True) == ("pending", "abandoned")
    paystack.settle(reference, "success")
    assert await status_of(client, user, reference, refresh=True) == ("success", "success")


async def test_an_idempotent_replay_of_an_abandoned_checkout_says_pending(
    client: httpx.AsyncClient, paystack: PaystackFake
) -> None:
    user = await new_user(client)
    first = await initiate(client, user, **{"Idempotency-Key": "order-17"})
    reference = first.json()["reference"]
    assert await status_of(client, user, reference, refresh=True) == ("pending", "abandoned")
    replay = await initiate(client, user, **{"Idempotency-Key": "order-17"})
    assert replay.json()["reference"] == reference
    assert (replay.json()["status"], replay.json()["provider_status"]) == ("pending", "abandoned")
