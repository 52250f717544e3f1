"""1,000 generated webhook sequences per provider against the real signature check, inbox and
handlers (billing's and the marketplace's), on one SQLite database, providers answered in memory
as in ``tests/billing/test_state_machine.py``.

Each example: an unpaid two-store order group and its payment; the provider's history of states;
deliveries — genuine (byte-for-byte duplicates among them), forged (signed with another secret) and
lying (authentic, but claiming success whatever the provider says) — in any order, each processed at
some moment of that history, the last genuine one after the last change (late ones after that).
Whatever the sequence: forged deliveries store nothing; the group is paid exactly when the provider
says ``success``, booked once (one ``payment:<ref>`` ledger transaction, one billing credit), its
orders confirmed once; a failure shown last leaves the group waiting with its reason.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select

from oja.billing import repository as billing_repository
from oja.billing.events import process_event
from oja.billing.models import LedgerEntry, Payment, WebhookEvent
from oja.billing.providers import flutterwave as flutterwave_provider
from oja.billing.providers import paystack as paystack_provider
from oja.billing.providers.port import InvalidWebhook, VerifiedTransaction
from oja.billing.states import PAYMENT_STATUSES, from_paystack
from oja.core import events
from oja.core.clock import utcnow
from oja.core.db import unit_of_work
from oja.marketplace.checkout import payments as checkout_payments
from oja.marketplace.ledger import checks as ledger_checks
from oja.marketplace.ledger import disputes, settlement
from oja.marketplace.ledger.models import LedgerTransaction
from oja.marketplace.orders.models import GroupStatus, OrderGroup, OrderStatus, StoreOrder
from oja.sandbox import flutterwave as flutterwave_fake
from oja.sandbox import paystack as paystack_fake
from tests.billing.test_state_machine import World, make_world

from . import ledger_kit

SOAK = int(os.environ.get("OJA_SOAK", "1"))
STATES = ("ongoing", "abandoned", "failed", "success")
PAYSTACK_SECRET = paystack_fake.DEFAULT_SECRET_KEY
FLUTTERWAVE_HASH = flutterwave_fake.DEFAULT_SECRET_HASH
# The handlers under test subscribe on import.
assert (checkout_payments.on_payment_succeeded, settlement.on_payment_succeeded) != (None, None)
assert disputes.on_dispute_changed is not None

OUTSIDE = ("oja.notifications", "oja.realtime", "oja.marketplace.orders.live")
"""Modules whose handlers need a running Oja (the jobs outbox, the push hub): the world here is a
bare database, and whether another test file imported them first depends on the test worker."""


@pytest.fixture(autouse=True, scope="module")
def _only_the_handlers_under_test() -> Iterator[None]:
    saved = {name: list(handlers) for name, handlers in events._handlers.items()}
    for handlers in events._handlers.values():
        handlers[:] = [h for h in handlers if not h.__module__.startswith(OUTSIDE)]
    yield
    events._handlers.clear()
    events._handlers.update(saved)


# A delivery: (moment of the history it is processed at, what it is). Kinds 0-2: genuine copies
# (the same bytes for the same copy); 3: forged; 4: authentic but lying about success.
deliveries = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 4)), min_size=1, max_size=8)
histories = st.lists(st.sampled_from(STATES), min_size=1, max_size=5)


class Ports:
    """The provider as its verify endpoint answers now (Paystack's words for both providers, as
    the adapters normalise them)."""

    def __init__(self, reference: str, amount: int) -> None:
        self.reference, self.amount, self.state = reference, amount, "ongoing"
        self.calls = 0

    def paystack(self) -> Ports:
        return self

    def flutterwave(self) -> Ports:
        return self

    def stripe(self) -> Ports:  # pragma: no cover - no Stripe event here
        return self

    async def verify(self, reference: str) -> VerifiedTransaction:
        self.calls += 1
        return VerifiedTransaction(
            reference=self.reference if reference == self.reference else reference,
            status=self.state,
            amount=self.amount,
            currency="NGN",
            paid_at=utcnow() if self.state == "success" else None,
            gateway_response="Declined" if self.state == "failed" else None,
            channel="card",
        )

    async def verify_transaction(self, transaction_id: str) -> VerifiedTransaction:
        return await self.verify(self.reference)


def _body(provider: str, reference: str, copy: int, claim: str) -> tuple[bytes, dict[str, str]]:
    if provider == "paystack":
        event = {"event": f"charge.{claim}", "data": {"reference": reference, "copy": copy}}
        body = json.dumps(event).encode()
        return body, {"x-paystack-signature": paystack_fake.sign(PAYSTACK_SECRET, body)}
    data = {"id": 7_000_000 + copy, "tx_ref": reference, "status": claim, "amount": 999_999}
    body = json.dumps({"event": "charge.completed", "data": data}).encode()
    return body, {"verif-hash": FLUTTERWAVE_HASH}


def _forged(provider: str, reference: str) -> tuple[bytes, dict[str, str]]:
    if provider == "paystack":
        event = {"event": "charge.success", "data": {"reference": reference, "forged": True}}
        body = json.dumps(event).encode()
        return body, {"x-paystack-signature": paystack_fake.sign("sk_test_someone_else", body)}
    data = {"id": 6_999_999, "tx_ref": reference, "status": "successful"}
    body = json.dumps({"event": "charge.completed", "data": data}).encode()
    return body, {"verif-hash": "not-the-secret-hash"}


def _parse(
    provider: str, body: bytes, headers: dict[str, str]
) -> tuple[str, str, dict[str, object]]:
    if provider == "paystack":
        event = paystack_provider.parse_webhook(PAYSTACK_SECRET, body, headers)
    else:
        event = flutterwave_provider.parse_webhook(FLUTTERWAVE_HASH, body, headers)
    return event.event_id, event.provider_type, event.payload


async def example(
    world: World, provider: str, history: list[str], plan: list[tuple[int, int]]
) -> None:
    async with unit_of_work(world.database) as db:
        buyer, stores = await ledger_kit.people(db, 2)
        reference = f"oja_seq_{uuid.uuid4().hex}"
        group, orders, lines = ledger_kit.group_rows(
            buyer,
            {stores[0]: [1000, 250], stores[1]: [999]},
            reference=reference,
            status=GroupStatus.awaiting_payment,
        )
        group.provider = provider
        for order in orders:
            order.status = str(OrderStatus.pending)
        db.add(group)
        await db.flush()
        db.add_all(orders)
        await db.flush()
        db.add_all(lines)
        await db.execute(
            insert(Payment).values(
                id=uuid.uuid4(),
                user_id=buyer,
                provider=provider,
                reference=reference,
                status="pending",
                amount=group.total,
                currency="NGN",
                amount_refunded=0,
                email="p@example.com",
                authorization_url="http://x",
                access_code="c",
                extra={"order_group_id": str(group.id)},
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )
    ports = Ports(reference, 2249)
    final = len(history) - 1
    # The provider's last change comes with a genuine delivery after it (copy 0 at the end).
    ordered = sorted(plan, key=lambda d: d[0]) + [(final, 0)]
    shown = {"pending"}
    forged = 0
    stored: set[str] = set()
    for moment, kind in ordered:
        ports.state = history[min(moment, final)]
        if kind == 3:
            body, headers = _forged(provider, reference)
            try:
                _parse(provider, body, headers)
            except InvalidWebhook:
                forged += 1
                continue
            raise AssertionError("a forged delivery was accepted")
        if kind == 4:  # authentic bytes claiming success: verify decides, not the body
            body, headers = _body(
                provider, reference, 9, "success" if provider == "paystack" else "successful"
            )
        else:
            body, headers = _body(
                provider, reference, kind, "success" if provider == "paystack" else "successful"
            )
        event_id, event_type, payload = _parse(provider, body, headers)
        stored.add(event_id[:255])
        target = from_paystack(ports.state)
        async with unit_of_work(world.database) as db:
            row_id = await billing_repository.store_event(
                db, provider=provider, event_id=event_id, event_type=event_type, payload=payload
            )
            if row_id is not None:
                if target is not None:
                    shown.add(target)
                await process_event(db, row_id, ports)

    expected = max(shown, key=PAYMENT_STATUSES.index)
    async with world.database.sessionmaker() as db:
        status = (
            await db.execute(select(Payment.status).where(Payment.reference == reference))
        ).scalar_one()
        credits = (
            await db.execute(
                select(func.count())
                .select_from(LedgerEntry)
                .where(LedgerEntry.source == f"payment:{reference}")
            )
        ).scalar_one()
        booked = (
            (
                await db.execute(
                    select(LedgerTransaction.source).where(LedgerTransaction.reference == reference)
                )
            )
            .scalars()
            .all()
        )
        saved = (await db.execute(select(OrderGroup).where(OrderGroup.id == group.id))).scalar_one()
        confirmed = (
            await db.execute(
                select(func.count())
                .select_from(StoreOrder)
                .where(StoreOrder.group_id == group.id, StoreOrder.status == "confirmed")
            )
        ).scalar_one()
        unbalanced = await ledger_checks.unbalanced_transactions(db)
        stored_rows = (
            await db.execute(
                select(func.count())
                .select_from(WebhookEvent)
                .where(WebhookEvent.provider == provider, WebhookEvent.event_id.in_(stored))
            )
        ).scalar_one()
    context = (provider, history, ordered)
    assert status == expected, context
    assert stored_rows == len(stored), context  # each distinct authentic body once
    assert forged == sum(1 for _, kind in ordered if kind == 3), context
    assert unbalanced == [], context
    if expected == "success":
        assert credits == 1, context
        assert sorted(booked) == [f"payment:{reference}"], context
        assert (saved.status, saved.failure_reason, confirmed) == ("paid", None, 2), context
    else:
        assert (credits, booked, confirmed) == (0, [], 0), context
        assert saved.status == "awaiting_payment", context
        assert saved.failure_reason == ("Declined" if expected == "failed" else None), context


_worlds: dict[int, World] = {}


def _world(tmp_path_factory: object, sqlite_template: Path) -> World:
    """One database for every example of a run (each example writes its own rows)."""
    key = id(tmp_path_factory)
    if key not in _worlds:
        _worlds[key] = make_world(tmp_path_factory, sqlite_template)
    return _worlds[key]


@settings(
    max_examples=1000 * SOAK,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories, plan=deliveries)
def test_paystack_sequences_pay_a_group_once_and_forgeries_never(
    tmp_path_factory: object, sqlite_template: Path, history: list[str], plan: list[tuple[int, int]]
) -> None:
    world = _world(tmp_path_factory, sqlite_template)
    world.run(example(world, "paystack", history, plan))


@settings(
    max_examples=1000 * SOAK,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories, plan=deliveries)
def test_flutterwave_sequences_pay_a_group_once_and_forgeries_never(
    tmp_path_factory: object, sqlite_template: Path, history: list[str], plan: list[tuple[int, int]]
) -> None:
    world = _world(tmp_path_factory, sqlite_template)
    world.run(example(world, "flutterwave", history, plan))
