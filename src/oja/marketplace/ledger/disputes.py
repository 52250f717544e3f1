"""Disputes (chargebacks) of paid order groups: flag, freeze, then release or reverse.

Billing re-reads every ``charge.dispute.*`` delivery from the provider and says what it found with
``billing.dispute.changed`` (:data:`oja.billing.service.DISPUTE_CHANGED`); its figures are the
provider's, never a webhook body's. Here, in the verifying unit of work:

* **Opened** (the first news of a provider dispute, whichever event brought it): one ``dispute``
  row per provider id (``INSERT … ON CONFLICT DO NOTHING``: replays and concurrent deliveries
  record it once); the disputed amount (the provider's ``refund_amount``) is apportioned over the
  group's store orders by what of each is not yet refunded (largest remainder in minor units,
  :func:`.commission.apportion`: the parts add up to the amount exactly; a dispute of the whole
  group, or of an amount the provider did not name, takes every order whole). Each order it takes
  from is flagged with a ``dispute_order`` row, its part split into store share, commission and
  the fee the store bore as a refund of that amount would be, and that share moves from
  ``store_pending`` (still held) or ``store_available`` (already released) to ``store_frozen``
  under ``dispute:<id>:freeze`` — neither released (the release job
  skips an order with an open dispute) nor payable (payouts pay ``available`` only). The stores'
  members and the admins are told (``dispute.opened``).
* **Resolved** (``resolution`` set): the row moves ``open → won|lost`` once (a conditional
  UPDATE). ``declined`` is the merchant's win: ``dispute:<id>:release`` returns each frozen share to
  the account it came from. ``merchant-accepted`` or ``auto-accepted`` is a loss:
  ``dispute:<id>:reversal`` books the frozen shares and the commission on them back to the
  provider (``provider_clearing``; the fee part the store bore becomes the platform's expense),
  balanced, and the settlements count the disputed part as reversed (its lines' refunded totals
  too) so no later release or refund reverses it again. Everyone is told (``dispute.resolved``).

Out-of-order deliveries (a resolve before its create) are harmless: the dispute is re-read, so the
first delivery processed opens and, if already resolved, resolves it. The amount frozen is the one
the dispute named when it opened; a later change of ``refund_amount`` is recorded on the row only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing import service as billing_service
from oja.billing.config import BillingSettings
from oja.billing.errors import from_provider
from oja.billing.providers.port import ProviderCallError
from oja.billing.service import DISPUTE_CHANGED
from oja.core import events
from oja.core.clock import utcnow
from oja.core.db import current_session
from oja.core.ids import uuid7
from oja.core.pagination import Page, PageParams
from oja.marketplace.checkout import repository as checkout_repository
from oja.marketplace.errors import DisputeClosed, DisputeNotFound
from oja.marketplace.ledger import commission as commission_rules
from oja.marketplace.ledger import repository
from oja.marketplace.ledger import settlement as settlement_rules
from oja.marketplace.ledger.models import (
    AccountKind,
    Dispute,
    DisputeOrder,
    DisputeStatus,
    EntryType,
    SettlementStatus,
    StoreSettlement,
    TransactionKind,
)
from oja.marketplace.ledger.schemas import DisputeOrderOut, DisputeOut, EvidenceIn
from oja.marketplace.ledger.service import Leg, post
from oja.marketplace.orders import repository as orders_repository
from oja.marketplace.orders.models import GroupStatus
from oja.marketplace.reviews.repository import admin_ids

log = structlog.get_logger("oja.marketplace.ledger")

WON = frozenset({"declined"})
"""Paystack resolutions in the merchant's favour; every other resolution is a loss."""


def freeze_source(dispute_id: uuid.UUID) -> str:
    return f"dispute:{dispute_id}:freeze"


def release_source(dispute_id: uuid.UUID) -> str:
    return f"dispute:{dispute_id}:release"


def reversal_source(dispute_id: uuid.UUID) -> str:
    return f"dispute:{dispute_id}:reversal"


@events.on(DISPUTE_CHANGED)
async def on_dispute_changed(
    *,
    provider: str,
    dispute_id: str,
    reference: str,
    status: str,
    resolution: str | None,
    amount: int,
    currency: str,
    due_at: datetime | None = None,
    **_: Any,
) -> None:
    await apply_dispute(
        current_session(),
        provider=provider,
        provider_dispute_id=dispute_id,
        reference=reference,
        provider_status=status,
        resolution=resolution,
        amount=amount,
        currency=currency,
        due_at=due_at,
    )


async def apply_dispute(
    db: AsyncSession,
    *,
    provider: str,
    provider_dispute_id: str,
    reference: str,
    provider_status: str,
    resolution: str | None,
    amount: int,
    currency: str,
    due_at: datetime | None,
) -> str:
    """Apply where a provider dispute stands; the outcome (``not_an_order``, ``opened``,
    ``updated``, ``won``, ``lost``, or ``opened+won``/``opened+lost``)."""
    group = await checkout_repository.group_by_reference(db, reference)
    if group is None or group.status != GroupStatus.paid:
        return "not_an_order"  # another module's payment, or a group the ledger never booked
    now = utcnow()
    opened = await repository.insert_dispute(
        db,
        {
            "id": uuid7(),
            "provider": provider,
            "provider_dispute_id": provider_dispute_id[:64],
            "reference": reference,
            "group_id": group.id,
            "status": str(DisputeStatus.open),
            "provider_status": provider_status[:40],
            "resolution": None,
            "amount": amount,
            "currency": currency,
            "due_at": due_at,
            "created_at": now,
            "updated_at": now,
        },
    )
    dispute = await repository.dispute_by_provider_id(db, provider, provider_dispute_id[:64])
    assert dispute is not None
    outcome = "updated"
    if opened:
        await _freeze(db, dispute)
        outcome = "opened"
    elif dispute.status == DisputeStatus.open:
        dispute.provider_status = provider_status[:40]
        dispute.due_at = due_at
        dispute.amount = amount
    if resolution is not None and dispute.status == DisputeStatus.open:
        won = resolution in WON
        if await repository.resolve_dispute(
            db, dispute.id, DisputeStatus.won if won else DisputeStatus.lost, now
        ):
            dispute.provider_status, dispute.resolution = provider_status[:40], resolution[:40]
            if won:
                await _release(db, dispute)
            else:
                await _reverse(db, dispute)
            await db.refresh(dispute)
            await _announce(db, "dispute.resolved", dispute)
            result = "won" if won else "lost"
            outcome = f"opened+{result}" if opened else result
    await db.flush()
    log.info(
        "marketplace.ledger.dispute",
        dispute_id=str(dispute.id),
        provider_dispute_id=provider_dispute_id,
        outcome=outcome,
    )
    return outcome


def at_stake(settlement: StoreSettlement, amount: int) -> tuple[int, int, int]:
    """(store share, commission, fee the store bore) in ``amount`` of an order's unreversed
    money, split as a refund of that amount over the order's lines would be."""
    amount = max(0, min(amount, settlement.total - settlement.refunded))
    _, commission = settlement_rules.reverse_lines(
        settlement, settlement_rules.whole_order(settlement), amount
    )
    fee = settlement_rules.returned_fee(
        settlement, settlement.refunded + amount
    ) - settlement_rules.returned_fee(settlement, settlement.refunded)
    return max(amount - commission - fee, 0), commission, fee


def disputed_parts(settlements: list[StoreSettlement], amount: int) -> list[int]:
    """The disputed ``amount`` apportioned over the group's orders by what of each is not yet
    reversed (largest remainder, :func:`.commission.apportion`); a dispute of nothing named or
    of at least everything takes every order whole."""
    left = [s.total - s.refunded for s in settlements]
    if amount <= 0 or amount >= sum(left):
        return left
    return commission_rules.apportion(amount, left)


async def _freeze(db: AsyncSession, dispute: Dispute) -> None:
    legs: list[Leg] = []
    flagged: list[DisputeOrder] = []
    settlements = list(await repository.group_settlements(db, dispute.group_id))
    whole = dispute.amount <= 0 or dispute.amount >= sum(s.total - s.refunded for s in settlements)
    for settlement, part in zip(
        settlements, disputed_parts(settlements, dispute.amount), strict=True
    ):
        if part <= 0 and not whole:
            continue  # a partial dispute leaves the orders it takes nothing from alone
        share, commission, fee = at_stake(settlement, part)
        held = settlement.status == SettlementStatus.held
        source = AccountKind.store_pending if held else AccountKind.store_available
        vendor, order = settlement.vendor_id, settlement.order_id
        legs.append(Leg(source, EntryType.dispute, share, vendor, order))
        legs.append(Leg(AccountKind.store_frozen, EntryType.dispute, -share, vendor, order))
        flagged.append(
            DisputeOrder(
                vendor_id=vendor,
                dispute_id=dispute.id,
                order_id=order,
                frozen=share,
                commission=commission,
                fee=fee,
                from_held=held,
            )
        )
    db.add_all(flagged)
    await post(
        db,
        source=freeze_source(dispute.id),
        kind=TransactionKind.dispute,
        currency=dispute.currency,
        legs=legs,
        group_id=dispute.group_id,
        reference=dispute.reference,
    )
    await db.flush()
    await _announce(db, "dispute.opened", dispute)


async def _release(db: AsyncSession, dispute: Dispute) -> None:
    legs: list[Leg] = []
    for flagged in await repository.dispute_orders(db, [dispute.id]):
        back = AccountKind.store_pending if flagged.from_held else AccountKind.store_available
        vendor, order = flagged.vendor_id, flagged.order_id
        legs.append(Leg(AccountKind.store_frozen, EntryType.dispute, flagged.frozen, vendor, order))
        legs.append(Leg(back, EntryType.dispute, -flagged.frozen, vendor, order))
    await post(
        db,
        source=release_source(dispute.id),
        kind=TransactionKind.dispute,
        currency=dispute.currency,
        legs=legs,
        group_id=dispute.group_id,
        reference=dispute.reference,
    )


async def _reverse(db: AsyncSession, dispute: Dispute) -> None:
    legs: list[Leg] = []
    settlements = {s.order_id: s for s in await repository.group_settlements(db, dispute.group_id)}
    for flagged in await repository.dispute_orders(db, [dispute.id]):
        vendor, order = flagged.vendor_id, flagged.order_id
        legs.append(Leg(AccountKind.store_frozen, EntryType.dispute, flagged.frozen, vendor, order))
        legs.append(
            Leg(
                AccountKind.platform_revenue,
                EntryType.commission_dispute,
                flagged.commission,
                None,
                order,
            )
        )
        legs.append(
            Leg(
                AccountKind.provider_clearing,
                EntryType.dispute,
                -(flagged.frozen + flagged.commission),
                None,
                order,
            )
        )
        if flagged.fee:
            # The provider takes its part of the order back but keeps its fee: the part of it
            # the store bore becomes the platform's expense (as with a refund).
            legs.append(Leg(AccountKind.provider_clearing, EntryType.dispute, -flagged.fee))
            legs.append(Leg(AccountKind.provider_fees, EntryType.fee, flagged.fee, None, order))
        settlement = settlements.get(order)
        if settlement is not None:  # reversed: no release or refund moves this part again
            taken = flagged.frozen + flagged.commission + flagged.fee
            refunds, _ = settlement_rules.reverse_lines(
                settlement, settlement_rules.whole_order(settlement), taken
            )
            settlement.refunded = min(settlement.refunded + taken, settlement.total)
            settlement.commission_refunded = min(
                settlement.commission_refunded + flagged.commission, settlement.commission
            )
            settlement.line_refunds = refunds
            fully = settlement.refunded >= settlement.total
            if fully and settlement.status == SettlementStatus.held:  # nothing is left to hold
                settlement.status = str(SettlementStatus.released)
                settlement.released_at = utcnow()
    await post(
        db,
        source=reversal_source(dispute.id),
        kind=TransactionKind.dispute,
        currency=dispute.currency,
        legs=legs,
        group_id=dispute.group_id,
        reference=dispute.reference,
    )


async def _announce(db: AsyncSession, name: str, dispute: Dispute) -> None:
    """One event per store flagged: its members and the admins are told."""
    admins = await admin_ids(db)
    for flagged in await repository.dispute_orders(db, [dispute.id]):
        staff = await orders_repository.staff_ids(db, flagged.vendor_id)
        await events.emit(
            name,
            dispute_id=dispute.id,
            order_id=flagged.order_id,
            group_id=dispute.group_id,
            vendor_id=flagged.vendor_id,
            order_number=str(flagged.order_id),
            amount=flagged.frozen,
            currency=dispute.currency,
            status=dispute.status,
            recipient_ids=list(dict.fromkeys([*staff, *admins])),
        )


# Admin


async def admin_disputes(
    db: AsyncSession, status: DisputeStatus | None, paging: PageParams
) -> Page[DisputeOut]:
    total, rows = await repository.disputes(
        db, str(status) if status else None, paging.offset, paging.per_page
    )
    flagged = await repository.dispute_orders(db, [row.id for row in rows])
    return Page[DisputeOut].of(
        [_out(row, [f for f in flagged if f.dispute_id == row.id]) for row in rows],
        total=total,
        params=paging,
    )


async def submit_evidence(
    db: AsyncSession, dispute_id: uuid.UUID, body: EvidenceIn, settings: BillingSettings
) -> DisputeOut:
    """Send the merchant's evidence to the provider (Paystack's ``POST /dispute/{id}/evidence``)
    for an open dispute; its evidence id is kept. Refused by the provider: nothing kept."""
    dispute = await repository.dispute(db, dispute_id)
    if dispute is None:
        raise DisputeNotFound("No such dispute.")
    if dispute.status != DisputeStatus.open:
        raise DisputeClosed(
            f"This dispute is {dispute.status}: it takes no more evidence.",
            details={"status": dispute.status},
        )
    if dispute.provider != "paystack":
        raise DisputeClosed(
            f"{dispute.provider} disputes are answered on the provider's dashboard.",
            details={"provider": dispute.provider},
        )
    async with billing_service.paystack_client(settings) as client:
        try:
            evidence_id = await client.add_dispute_evidence(
                dispute.provider_dispute_id,
                customer_email=str(body.customer_email),
                customer_name=body.customer_name,
                customer_phone=body.customer_phone,
                service_details=body.service_details,
                delivery_address=body.delivery_address,
                delivery_date=body.delivery_date.isoformat() if body.delivery_date else None,
            )
        except ProviderCallError as exc:
            raise from_provider(exc) from exc
    dispute.evidence_id, dispute.evidence_at = evidence_id[:64], utcnow()
    await db.flush()
    log.info("marketplace.ledger.dispute_evidence", dispute_id=str(dispute.id))
    return _out(dispute, await repository.dispute_orders(db, [dispute.id]))


def _out(dispute: Dispute, flagged: list[DisputeOrder]) -> DisputeOut:
    return DisputeOut(
        id=dispute.id,
        provider=dispute.provider,
        provider_dispute_id=dispute.provider_dispute_id,
        reference=dispute.reference,
        group_id=dispute.group_id,
        status=dispute.status,
        provider_status=dispute.provider_status,
        resolution=dispute.resolution,
        amount=dispute.amount,
        currency=dispute.currency,
        due_at=dispute.due_at,
        evidence_id=dispute.evidence_id,
        evidence_at=dispute.evidence_at,
        resolved_at=dispute.resolved_at,
        created_at=dispute.created_at,
        orders=[
            DisputeOrderOut(
                order_id=f.order_id, vendor_id=f.vendor_id, frozen=f.frozen, commission=f.commission
            )
            for f in flagged
        ],
    )
