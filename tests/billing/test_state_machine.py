"""Generated delivery orders against the real inbox and handlers (SQLite, providers faked in memory).

Each example has a provider-side history of states and a list of webhook deliveries, some byte-for-byte
duplicates, in any order, each processed at some point of that history; one delivery always comes after
the last change. Whatever the order: at most one credit, a payment never leaves ``success``, it ends at
the highest state it was shown, and a subscription ends exactly as the provider has it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select

from oja.billing import repository
from oja.billing.events import process_event
from oja.billing.models import LedgerEntry, Payment, Subscription
from oja.billing.providers.paystack import VerifiedTransaction
from oja.billing.providers.stripe import SubscriptionState
from oja.billing.states import PAYMENT_STATUSES, from_paystack
from oja.core.clock import utcnow
from oja.core.db import Database, unit_of_work
from oja.identity.models import User

SOAK = int(os.environ.get("OJA_SOAK", "1"))
"""Multiplies the 1,000 generated sequences (700 Paystack, 300 Stripe) for a longer soak."""
PAYSTACK_STATES = ("ongoing", "abandoned", "failed", "success")
STRIPE_STATES = ("incomplete", "active", "past_due", "active", "canceled", "unpaid")


class FakePorts:
    def __init__(self) -> None:
        self.paystack_state = "ongoing"
        self.subscription = "incomplete"
        self.cancel_at_period_end = False
        self.amount = 5000

    def paystack(self) -> FakePorts:
        return self

    def stripe(self) -> FakePorts:
        return self

    def flutterwave(self) -> FakePorts:
        return self

    async def verify_transaction(self, transaction_id: str) -> VerifiedTransaction:
        return await self.verify(transaction_id)

    async def verify(self, reference: str) -> VerifiedTransaction:
        return VerifiedTransaction(
            reference=reference,
            status=self.paystack_state,
            amount=self.amount,
            currency="NGN",
            paid_at=utcnow() if self.paystack_state == "success" else None,
            gateway_response=None,
            channel="card",
        )

    async def retrieve_subscription(self, subscription_id: str) -> SubscriptionState:
        return SubscriptionState(
            id=subscription_id,
            customer_id="cus_x",
            status=self.subscription,
            price_id="price_x",
            current_period_end=datetime(2030, 1, 1, tzinfo=UTC),
            cancel_at_period_end=self.cancel_at_period_end,
            canceled_at=None,
            user_id=None,
        )


class World:
    def __init__(self, path: Path) -> None:
        self.database = Database(f"sqlite+aiosqlite:///{path}")
        self.loop = asyncio.new_event_loop()
        self.user_id = uuid.uuid4()
        self.run(self._user())

    def run(self, coro: object) -> object:
        return self.loop.run_until_complete(coro)  # type: ignore[arg-type]

    async def _user(self) -> None:
        async with self.database.sessionmaker() as session:
            session.add(User(id=self.user_id, email=f"{self.user_id}@example.com"))
            await session.commit()

    def close(self) -> None:
        self.run(self.database.dispose())
        self.loop.close()


def make_world(tmp_path_factory: object, sqlite_template: Path) -> World:
    folder = tmp_path_factory.mktemp("hypothesis")  # type: ignore[attr-defined]
    path = folder / "oja.db"
    shutil.copy(sqlite_template, path)
    return World(path)


# A delivery: (moment in the history at which it is processed, which copy of the body it carries).
deliveries = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2)), min_size=1, max_size=8)


async def deliver(
    world: World, ports: FakePorts, provider: str, event_id: str, payload: dict[str, object]
) -> None:
    # A unit of work, as the webhook job runs it: billing's events (a payment credited) reach
    # their subscribers — the marketplace's among them once it is imported — in this transaction.
    async with unit_of_work(world.database) as session:
        row_id = await repository.store_event(
            session,
            provider=provider,
            event_id=event_id,
            event_type=str(payload.get("type") or payload.get("event")),
            payload=payload,
        )
        if row_id is not None:
            await process_event(session, row_id, ports)


async def paystack_example(world: World, history: list[str], plan: list[tuple[int, int]]) -> None:
    ports = FakePorts()
    reference = f"ref-{uuid.uuid4().hex}"
    async with world.database.sessionmaker() as session:
        await session.execute(
            insert(Payment).values(
                id=uuid.uuid4(),
                user_id=world.user_id,
                reference=reference,
                status="pending",
                amount=5000,
                currency="NGN",
                amount_refunded=0,
                email="p@example.com",
                authorization_url="http://x",
                access_code="c",
                extra={},
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )
        await session.commit()
    # The provider's last change always comes with a new event (new bytes): copy 3.
    ordered = sorted(plan, key=lambda d: d[0]) + [(len(history) - 1, 3)]
    shown = {"pending"}
    seen: set[int] = set()
    for moment, copy in ordered:
        state = history[min(moment, len(history) - 1)]
        ports.paystack_state = state
        target = from_paystack(state)
        if target is not None and copy not in seen:  # a byte-identical replay is dropped
            shown.add(target)
        seen.add(copy)
        body = {"event": "charge.success", "data": {"reference": reference}}
        await deliver(world, ports, "paystack", f"charge:{reference}:{copy}", body)
    async with world.database.sessionmaker() as session:
        status = (
            await session.execute(select(Payment.status).where(Payment.reference == reference))
        ).scalar_one()
        credits = (
            await session.execute(
                select(func.count())
                .select_from(LedgerEntry)
                .where(LedgerEntry.source == f"payment:{reference}")
            )
        ).scalar_one()
    expected = max(shown, key=PAYMENT_STATUSES.index)
    assert status == expected, (history, ordered, status)
    assert credits == (1 if expected == "success" else 0)


@settings(
    max_examples=700 * SOAK,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=st.lists(st.sampled_from(PAYSTACK_STATES), min_size=1, max_size=5), plan=deliveries)
def test_paystack_deliveries_in_any_order_credit_at_most_once(
    tmp_path_factory: object, sqlite_template: Path, history: list[str], plan: list[tuple[int, int]]
) -> None:
    world = _world(tmp_path_factory, sqlite_template)
    world.run(paystack_example(world, history, plan))


async def stripe_example(
    world: World, history: list[tuple[str, bool]], plan: list[tuple[int, int]]
) -> None:
    ports = FakePorts()
    subscription_id = f"sub_{uuid.uuid4().hex}"
    kinds = ["checkout.session.completed", "customer.subscription.updated", "invoice.paid"]
    ordered = sorted(plan, key=lambda d: d[0]) + [(len(history) - 1, 3)]
    for moment, copy in ordered:
        ports.subscription, ports.cancel_at_period_end = history[min(moment, len(history) - 1)]
        kind = kinds[copy % 3]
        obj: dict[str, object] = (
            {"id": subscription_id}
            if kind.startswith("customer.")
            else {"subscription": subscription_id}
        )
        obj["client_reference_id"] = str(world.user_id)
        event = {"id": f"evt_{subscription_id}_{copy}", "type": kind, "data": {"object": obj}}
        # Stripe retries send the same event id: the inbox must take it once.
        await deliver(world, ports, "stripe", event["id"], json.loads(json.dumps(event)))
    async with world.database.sessionmaker() as session:
        row = (
            await session.execute(
                select(Subscription).where(Subscription.provider_subscription_id == subscription_id)
            )
        ).scalar_one()
    assert (row.status, row.cancel_at_period_end) == history[-1]


@settings(
    max_examples=300 * SOAK,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    history=st.lists(
        st.tuples(st.sampled_from(STRIPE_STATES), st.booleans()), min_size=1, max_size=5
    ),
    plan=deliveries,
)
def test_stripe_deliveries_in_any_order_end_in_the_providers_state(
    tmp_path_factory: object,
    sqlite_template: Path,
    history: list[tuple[str, bool]],
    plan: list[tuple[int, int]],
) -> None:
    world = _world(tmp_path_factory, sqlite_template)
    world.run(stripe_example(world, history, plan))


_worlds: dict[int, World] = {}


def _world(tmp_path_factory: object, sqlite_template: Path) -> World:
    """One database for all examples of a run (each example uses its own rows)."""
    key = id(tmp_path_factory)
    if key not in _worlds:
        _worlds[key] = make_world(tmp_path_factory, sqlite_template)
    return _worlds[key]
