"""Split settlement: a paid order group booked into the ledger, refunds reversed, holds released.

* **Payment.** On ``billing.payment.succeeded`` (in the verifying unit of work, after checkout has
  moved the group to ``paid``: this module imports checkout's handler first, so it is subscribed
  first), the group is booked once under ``payment:<reference>``: the provider clearing account is
  debited the payment; each store's ``pending`` account is credited its share and the platform's
  revenue the commission (see :mod:`.commission` for the rounding rule). The provider's fee (from
  the same verification) is booked beside it under ``fee:<reference>``: credited to clearing and
  debited to whoever bears it
  (``OJA_MARKETPLACE_FEE_BEARER``: the platform's ``provider_fees`` expense, or the stores'
  pending shares in proportion to their orders). A group not ``paid`` —
  flagged, paid after expiry, or another module's payment — books nothing: that money is an
  operator's to refund, not a store's.
* **Refund.** On ``refund.processed`` (the provider paid the buyer back), ``refund:<id>`` reverses
  exactly the refunded lines' store share and commission, from ``pending`` while the order is held,
  from ``available`` after release — where it may go negative; the next payouts recover it. The
  fee a store bore comes back to it in proportion (the provider keeps it; the platform absorbs it).
* **Release.** A periodic job moves each store order's remaining share from ``pending`` to
  ``available`` once it was delivered ``OJA_MARKETPLACE_RETURN_WINDOW_DAYS`` ago with no return
  open, under ``release:<order id>``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing.service import PAYMENT_SUCCEEDED
from oja.core import events
from oja.core.db import current_session
from oja.core.runtime import current_settings
from oja.marketplace.checkout import payments as checkout_payments
from oja.marketplace.checkout import repository as checkout_repository
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.ledger import commission, repository
from oja.marketplace.ledger import split as provider_split
from oja.marketplace.ledger.models import (
    AccountKind,
    EntryType,
    SettlementStatus,
    StoreSettlement,
    TransactionKind,
)
from oja.marketplace.ledger.service import Accounts, Leg, post
from oja.marketplace.orders import repository as orders_repository
from oja.marketplace.orders.models import GroupStatus, OrderLine, RefundSource, StoreOrder
from oja.marketplace.orders.refunds import REFUND_PROCESSED

log = structlog.get_logger("oja.marketplace.ledger")

# Checkout's handler must run first (it makes the group ``paid``): it is subscribed on import.
assert checkout_payments.on_payment_succeeded is not None


def payment_source(reference: str) -> str:
    return f"payment:{reference}"


def fee_source(reference: str) -> str:
    return f"fee:{reference}"


def refund_source(refund_id: uuid.UUID) -> str:
    return f"refund:{refund_id}"


def release_source(order_id: uuid.UUID) -> str:
    return f"release:{order_id}"


@events.on(PAYMENT_SUCCEEDED)
async def on_payment_succeeded(
    *,
    reference: str,
    fees: int = 0,
    metadata: dict[str, Any] | None = None,
    split_shares: dict[str, int] | None = None,
    **_: Any,
) -> None:
    # Events carry no runtime; outside a request or job (a CLI), the environment's settings.
    settings = current_settings().section(MarketplaceSettings)
    await book_payment(
        current_session(),
        reference,
        settings,
        fees=fees,
        sent=provider_split.sent_shares(metadata),
        split_shares=split_shares,
    )


@events.on(REFUND_PROCESSED)
async def on_refund_processed(
    *,
    refund_id: uuid.UUID,
    vendor_id: uuid.UUID,
    order_id: uuid.UUID,
    source: str,
    source_id: uuid.UUID,
    amount: int,
    **_: Any,
) -> None:
    await book_refund(
        current_session(),
        refund_id=refund_id,
        vendor_id=vendor_id,
        order_id=order_id,
        source=source,
        source_id=source_id,
        amount=amount,
    )


async def _rules(
    db: AsyncSession,
    settings: MarketplaceSettings,
    vendor_ids: set[uuid.UUID],
    category_ids: set[uuid.UUID],
) -> commission.Rules:
    by_store_category: dict[tuple[uuid.UUID, uuid.UUID], commission.Rate] = {}
    by_store: dict[uuid.UUID, commission.Rate] = {}
    by_category: dict[uuid.UUID, commission.Rate] = {}
    for rule in await repository.rules_for(db, vendor_ids, category_ids):
        rate = commission.Rate(rule.percent_bps, rule.fixed)
        if rule.vendor_id is not None and rule.category_id is not None:
            by_store_category[(rule.vendor_id, rule.category_id)] = rate
        elif rule.vendor_id is not None:
            by_store[rule.vendor_id] = rate
        elif rule.category_id is not None:
            by_category[rule.category_id] = rate
    default = commission.Rate(int(settings.commission_percent * commission.BPS / 100))
    return commission.Rules(default, by_store_category, by_store, by_category)


async def order_commissions(
    db: AsyncSession,
    settings: MarketplaceSettings,
    orders: Sequence[StoreOrder],
    lines: Sequence[OrderLine],
) -> dict[uuid.UUID, dict[uuid.UUID, int]]:
    """Each store order's commission per line (order id → line id → minor units), by the most
    specific rule (:mod:`.commission`): what the ledger books, and what a provider split pays."""
    categories = await repository.product_categories(
        db, {line.product_id: line.vendor_id for line in lines if line.product_id is not None}
    )
    rules = await _rules(
        db,
        settings,
        {order.vendor_id for order in orders},
        {category for category in categories.values() if category is not None},
    )
    return {
        order.id: commission.split(
            [
                commission.SplitLine(
                    line.id,
                    line.line_total,
                    rules.rate(
                        order.vendor_id,
                        categories.get(line.product_id) if line.product_id else None,
                    ),
                )
                for line in lines
                if line.order_id == order.id
            ]
        )
        for order in orders
    }


def fee_parts(
    fees: int, shares: dict[uuid.UUID, tuple[int, int]], bearer: str
) -> tuple[dict[uuid.UUID, int], int]:
    """The provider's ``fees`` split between the stores (order id → part) and the platform.

    ``platform``: all of it is the platform's. ``vendor``: each store order bears
    ``fees × order total // group total`` (``shares``: order id → (order total, store share)),
    never more than its share; the platform absorbs the remainder kobo and any excess."""
    if bearer != "vendor" or fees <= 0:
        return {}, max(fees, 0)
    total = sum(order_total for order_total, _ in shares.values())
    parts = {
        order_id: min(fees * order_total // total, share) if total else 0
        for order_id, (order_total, share) in shares.items()
    }
    return parts, fees - sum(parts.values())


async def book_payment(
    db: AsyncSession,
    reference: str,
    settings: MarketplaceSettings,
    *,
    fees: int = 0,
    sent: Mapping[uuid.UUID, tuple[str, int]] | None = None,
    split_shares: Mapping[str, int] | None = None,
) -> str:
    """Book a paid group's split once; the outcome (``booked``, ``already_booked``, ``not_paid``).

    ``fees`` (the provider's, from the verification) leave the clearing account: the platform's
    expense (``provider_fees``) or, with ``OJA_MARKETPLACE_FEE_BEARER=vendor``, taken from the
    stores' shares (a ``fee`` entry on each store's pending account). ``sent``: the stores
    Paystack settled directly (:mod:`.split`), with ``split_shares`` as verified."""
    paid = checkout_payments.just_paid(db, reference)
    if paid is not None:  # confirmed by this event's checkout handler: the rows are in hand
        group, orders, lines = paid
    else:
        found = await checkout_repository.group_by_reference(db, reference)
        if found is None or found.status != GroupStatus.paid:
            return "not_paid"
        group, orders = found, await checkout_repository.group_orders(db, found.id)
        lines = await checkout_repository.group_lines(db, orders) if orders else []
    commissions = await order_commissions(db, settings, orders, lines)
    legs = [Leg(AccountKind.provider_clearing, EntryType.payment, group.total)]
    fees = min(max(fees, 0), group.total)
    settlements = []
    splits: dict[uuid.UUID, int] = {}
    for order in orders:
        mine = [line for line in lines if line.order_id == order.id]
        split = commissions[order.id]
        fee = min(sum(split.values()), order.total)
        share = order.total - fee
        splits[order.id] = fee
        legs.append(
            Leg(AccountKind.store_pending, EntryType.sale, -share, order.vendor_id, order.id)
        )
        legs.append(Leg(AccountKind.platform_revenue, EntryType.commission, -fee, None, order.id))
        settlements.append(
            StoreSettlement(
                vendor_id=order.vendor_id,
                order_id=order.id,
                group_id=group.id,
                currency=group.currency,
                total=order.total,
                commission=fee,
                fee=0,
                lines={str(line.id): [line.line_total, split[line.id]] for line in mine},
                line_refunds={},
            )
        )
    parts, platform_fee = fee_parts(
        fees,
        {o.id: (o.total, o.total - splits[o.id]) for o in orders},
        settings.fee_bearer,
    )
    sent = sent or {}
    for order in orders:  # Paystack allocated these stores' fee itself (all-proportional)
        if order.id in sent:
            parts[order.id] = min(
                provider_split.fee_part(fees, sent[order.id][1], group.total, settings.fee_bearer),
                order.total - splits[order.id],
            )
    platform_fee = fees - sum(parts.values())
    fee_legs = [
        Leg(AccountKind.provider_clearing, EntryType.fee, -fees),
        Leg(AccountKind.provider_fees, EntryType.fee, platform_fee),
    ]
    for settlement in settlements:
        settlement.fee = parts.get(settlement.order_id, 0)
        fee_legs.append(
            Leg(
                AccountKind.store_pending,
                EntryType.fee,
                settlement.fee,
                settlement.vendor_id,
                settlement.order_id,
            )
        )
    accounts = Accounts(group.currency, legs, fee_legs)  # both transactions' in one statement
    booked = await post(
        db,
        source=payment_source(reference),
        kind=TransactionKind.payment,
        currency=group.currency,
        legs=legs,
        buyer_id=group.buyer_id,
        group_id=group.id,
        reference=reference,
        accounts=accounts,
    )
    if booked is None:
        return "already_booked"
    await post(  # its own transaction: the payment's amount stays what the buyer paid
        db,
        source=fee_source(reference),
        kind=TransactionKind.fee,
        currency=group.currency,
        legs=fee_legs,
        group_id=group.id,
        reference=reference,
        accounts=accounts,
    )
    if sent:
        await provider_split.book(
            db,
            reference=reference,
            group_id=group.id,
            currency=group.currency,
            settlements=settlements,
            sent=sent,
            verified=split_shares,
        )
    repository.add_settlements(db, settlements)
    await db.flush()
    log.info("marketplace.ledger.payment_booked", group_id=str(group.id), total=group.total)
    return "booked"


def _refunded_lines(
    settlement: StoreSettlement,
    wanted: list[tuple[str, int]],
    amount: int,
    line_refunds: Mapping[str, Any],
) -> list[tuple[str, int]]:
    """Spread ``amount`` over ``wanted`` (line id, most refundable), never past a line's total."""
    spread = []
    for line_id, most in wanted:
        if amount <= 0:
            break
        line_total = int(settlement.lines.get(line_id, [0, 0])[0])
        left = line_total - int(line_refunds.get(line_id, 0))
        take = min(amount, most, left)
        if take > 0:
            spread.append((line_id, take))
            amount -= take
    return spread


def reverse_lines(
    settlement: StoreSettlement,
    wanted: list[tuple[str, int]],
    amount: int,
    line_refunds: Mapping[str, Any] | None = None,
    *,
    refunded: int | None = None,
    commission_refunded: int | None = None,
) -> tuple[dict[str, int], int]:
    """``amount`` spread over the ``wanted`` lines: the lines' refunded totals after it, and the
    commission it takes back (on the running totals, :func:`.commission.reversed_commission`).
    ``line_refunds`` / ``refunded`` / ``commission_refunded``: what was reversed before it
    (default: what the settlement says)."""
    before_it = settlement.line_refunds if line_refunds is None else line_refunds
    before = settlement.refunded if refunded is None else refunded
    given_back = (
        settlement.commission_refunded if commission_refunded is None else commission_refunded
    )
    refunds = {k: int(v) for k, v in before_it.items()}
    for line_id, take in _refunded_lines(settlement, wanted, amount, before_it):
        refunds[line_id] = refunds.get(line_id, 0) + take
    after = commission.reversed_commission(
        (
            (int(line_total), int(line_fee), refunds.get(line_id, 0))
            for line_id, (line_total, line_fee) in settlement.lines.items()
        ),
        settlement.fee,
        settlement.total,
        before + amount,
        given_back,
    )
    return refunds, after - given_back


def whole_order(settlement: StoreSettlement) -> list[tuple[str, int]]:
    """Every line of the order, as far as it goes: what a refund or a dispute of the order (not
    of named lines) is spread over."""
    return [(line_id, int(total)) for line_id, (total, _) in settlement.lines.items()]


def returned_fee(settlement: StoreSettlement, refunded: int) -> int:
    """What of the fee the store bore comes back once ``refunded`` of its order was reversed."""
    return commission.returned_fee(settlement.fee, settlement.total, refunded)


def remaining_share(settlement: StoreSettlement) -> int:
    """The store's share of an order not yet reversed by refunds or a lost dispute."""
    return (
        (settlement.total - settlement.commission - settlement.fee)
        - (settlement.refunded - settlement.commission_refunded)
        + returned_fee(settlement, settlement.refunded)
    )


async def refunded_from(
    db: AsyncSession, settlement: StoreSettlement, source: str, source_id: uuid.UUID
) -> list[tuple[str, int]]:
    """The lines a refund is spread over: a return's lines, else (a cancellation) the order's."""
    if source == RefundSource.return_:
        return [
            (str(line.order_line_id), line.amount)
            for line in await repository.return_lines(db, settlement.vendor_id, source_id)
        ]
    return whole_order(settlement)


@dataclass(frozen=True, slots=True)
class RefundParts:
    """What one refund of ``amount`` reverses on its store order."""

    amount: int
    line_refunds: dict[str, int]
    """Each line's refunded total after it."""
    commission: int
    """The commission it takes back from the platform."""
    fee_back: int
    """The provider fee the store bore that comes back to it."""

    @property
    def store_debit(self) -> int:
        """What it takes from the store's balance: the refund less the commission and fee
        parts it gives back."""
        return self.amount - self.commission - self.fee_back


def refund_parts(
    settlement: StoreSettlement,
    wanted: list[tuple[str, int]],
    amount: int,
    *,
    refunded: int | None = None,
    line_refunds: Mapping[str, Any] | None = None,
    commission_refunded: int | None = None,
) -> RefundParts:
    """The ledger's one formula for a refund's parts, after ``refunded`` / ``line_refunds`` /
    ``commission_refunded`` (default: what the settlement has reversed so far; payouts pass a
    running state to price several refunds in flight on one order)."""
    before = settlement.refunded if refunded is None else refunded
    refunds, fee = reverse_lines(
        settlement,
        wanted,
        amount,
        line_refunds,
        refunded=before,
        commission_refunded=commission_refunded,
    )
    # The provider keeps its fee on a refund: the part the store bore comes back from the
    # platform (see :mod:`.commission`), so a full refund leaves the store as if never sold.
    fee_back = returned_fee(settlement, before + amount) - returned_fee(settlement, before)
    return RefundParts(amount, refunds, fee, fee_back)


async def reserved_for_refunds(db: AsyncSession, vendor_id: uuid.UUID, currency: str) -> int:
    """What the store's refunds not yet processed will take from ``available``: only those of
    released orders (a held order's refund is reversed from ``pending``, which is never paid
    out). Each priced by :func:`refund_parts` as :func:`book_refund` will book it, in the order
    they were made, on the running refunded total of their order."""
    reserved = 0
    state: dict[uuid.UUID, tuple[int, Mapping[str, Any], int]] = {}
    for refund, settlement in await repository.refunds_in_flight(db, vendor_id, currency):
        refunded, line_refunds, given_back = state.get(
            settlement.order_id,
            (settlement.refunded, settlement.line_refunds, settlement.commission_refunded),
        )
        wanted = await refunded_from(db, settlement, refund.source, refund.source_id)
        parts = refund_parts(
            settlement,
            wanted,
            refund.amount,
            refunded=refunded,
            line_refunds=line_refunds,
            commission_refunded=given_back,
        )
        state[settlement.order_id] = (
            refunded + refund.amount,
            parts.line_refunds,
            given_back + parts.commission,
        )
        reserved += max(parts.store_debit, 0)
    return reserved


async def book_refund(
    db: AsyncSession,
    *,
    refund_id: uuid.UUID,
    vendor_id: uuid.UUID,
    order_id: uuid.UUID,
    source: str,
    source_id: uuid.UUID,
    amount: int,
) -> str:
    """Reverse a processed refund's lines once; the outcome."""
    settlement = await repository.settlement(db, vendor_id, order_id, lock=True)
    if settlement is None:
        return "not_settled"  # the group was never booked (paid before the ledger existed)
    if await repository.transaction_by_source(db, refund_source(refund_id)) is not None:
        return "already_booked"
    wanted = await refunded_from(db, settlement, source, source_id)
    parts = refund_parts(settlement, wanted, amount)
    refunds, fee, fee_back = parts.line_refunds, parts.commission, parts.fee_back
    # What the lines could not absorb (a refund beyond them) is the store's alone.
    store_part = amount - fee
    held = settlement.status == SettlementStatus.held
    account = AccountKind.store_pending if held else AccountKind.store_available
    posted = await post(
        db,
        source=refund_source(refund_id),
        kind=TransactionKind.refund,
        currency=settlement.currency,
        legs=[
            Leg(AccountKind.provider_clearing, EntryType.refund, -amount),
            Leg(account, EntryType.refund, store_part, vendor_id, order_id),
            Leg(AccountKind.platform_revenue, EntryType.commission_refund, fee, None, order_id),
            Leg(account, EntryType.fee, -fee_back, vendor_id, order_id),
            Leg(AccountKind.provider_fees, EntryType.fee, fee_back, None, order_id),
        ],
        buyer_id=await _buyer(db, settlement),
        group_id=settlement.group_id,
        order_id=order_id,
    )
    if posted is None:
        return "already_booked"
    settlement.refunded += amount
    settlement.commission_refunded += fee
    settlement.line_refunds = refunds
    await db.flush()
    log.info(
        "marketplace.ledger.refund_booked",
        refund_id=str(refund_id),
        amount=amount,
        commission=fee,
        fee_returned=fee_back,
        from_account=str(account),
    )
    return "booked"


async def _buyer(db: AsyncSession, settlement: StoreSettlement) -> uuid.UUID | None:
    group = await orders_repository.group(db, settlement.group_id)
    return group.buyer_id if group else None


async def release_due(db: AsyncSession, now: datetime, settings: MarketplaceSettings) -> int:
    """Release the held share of up to a batch of store orders whose hold (by default the return
    window) passed."""
    hold = settings.settlement_hold_days
    cutoff = now - timedelta(days=settings.return_window_days if hold is None else hold)
    released = 0
    for vendor_id, order_id in await repository.due_releases(
        db, cutoff, settings.settlement_release_batch
    ):
        released += await release(db, vendor_id, order_id, now)
    return released


async def release(
    db: AsyncSession, vendor_id: uuid.UUID, order_id: uuid.UUID, now: datetime
) -> bool:
    """Move one store order's remaining held share to available, once."""
    settlement = await repository.settlement(db, vendor_id, order_id, lock=True)
    if settlement is None or not await repository.mark_released(db, vendor_id, order_id, now):
        return False
    remaining = remaining_share(settlement)
    await post(
        db,
        source=release_source(order_id),
        kind=TransactionKind.release,
        currency=settlement.currency,
        legs=[
            Leg(AccountKind.store_pending, EntryType.release, remaining, vendor_id, order_id),
            Leg(AccountKind.store_available, EntryType.release, -remaining, vendor_id, order_id),
        ],
        group_id=settlement.group_id,
        order_id=order_id,
    )
    log.info("marketplace.ledger.released", order_id=str(order_id), amount=remaining)
    return True
