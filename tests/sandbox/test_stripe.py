"""The Stripe fake speaks to the official SDK: form bodies, objects, errors, idempotency, signatures."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from oja.billing.providers.stripe import (
    InvalidStripeSignature,
    StripeGateway,
    StripeRefused,
    verify_webhook,
)
from oja.sandbox.stripe import DEFAULT_PRICE_ID, DEFAULT_WEBHOOK_SECRET, StripeFake, parse_form
from tests.fakes import serving


@pytest.fixture
def served() -> Iterator[tuple[StripeFake, str]]:
    yield from serving(StripeFake())


def test_form_bodies_decode_to_nested_objects() -> None:
    body = b"line_items[0][price]=p&line_items[0][quantity]=1&metadata[user_id]=u&mode=subscription"
    assert parse_form(body) == {
        "line_items": [{"price": "p", "quantity": "1"}],
        "metadata": {"user_id": "u"},
        "mode": "subscription",
    }


async def test_sdk_round_trip_and_idempotency(served: tuple[StripeFake, str]) -> None:
    fake, url = served
    async with StripeGateway(
        secret_key=fake.secret_key, api_base=url, max_network_retries=0
    ) as gateway:
        first = await gateway.create_customer(
            email="a@example.com", user_id="u1", idempotency_key="k"
        )
        again = await gateway.create_customer(
            email="a@example.com", user_id="u1", idempotency_key="k"
        )
        assert first == again
        assert len(fake.customers) == 1
        session = await gateway.create_checkout_session(
            customer_id=first,
            price_id=DEFAULT_PRICE_ID,
            user_id="u1",
            success_url="http://x/ok",
            cancel_url="http://x/no",
            idempotency_key=None,
        )
        events = fake.complete_checkout(session.id)
        assert [e["type"] for e in events] == [
            "checkout.session.completed",
            "customer.subscription.created",
            "invoice.paid",
        ]
        subscription_id = fake.sessions[session.id]["subscription"]
        state = await gateway.retrieve_subscription(subscription_id)
        assert (state.status, state.customer_id, state.user_id) == ("active", first, "u1")
        assert state.current_period_end is not None
        updated = await gateway.set_cancel_at_period_end(subscription_id, True)
        assert updated.cancel_at_period_end is True
        with pytest.raises(StripeRefused, match="No such subscription"):
            await gateway.retrieve_subscription("sub_missing")
        with pytest.raises(StripeRefused, match="No such price"):
            await gateway.create_checkout_session(
                customer_id=first,
                price_id="price_nope",
                user_id="u1",
                success_url="http://x/ok",
                cancel_url="http://x/no",
                idempotency_key=None,
            )
    async with StripeGateway(
        secret_key="sk_test_wrong", api_base=url, max_network_retries=0
    ) as wrong:
        with pytest.raises(StripeRefused, match="Invalid API Key"):
            await wrong.retrieve_subscription(subscription_id)


def test_events_are_signed_as_stripe_documents() -> None:
    fake = StripeFake()
    event = fake.event("invoice.paid", {"id": "in_1", "object": "invoice"})
    payload, header = fake.signed(event)
    assert verify_webhook(payload, header, DEFAULT_WEBHOOK_SECRET, 300)["id"] == event["id"]
    _, old = fake.signed(event, timestamp=int(time.time()) - 301)
    with pytest.raises(InvalidStripeSignature):
        verify_webhook(payload, old, DEFAULT_WEBHOOK_SECRET, 300)
