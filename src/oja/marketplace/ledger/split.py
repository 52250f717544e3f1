"""Paystack's native split (``OJA_MARKETPLACE_SETTLEMENT=provider_split``) in the ledger.

At checkout, :mod:`oja.marketplace.payouts.subaccounts` sends Paystack a dynamic flat split paying
each store with a subaccount its share (order total less the ledger's own commission) and records
what it sent in the payment's metadata (``provider_split``: store order id → [subaccount code,
share]) — Oja's own record, never the provider's. When the payment is verified the ledger books
the same entries as for any payment, then ``split:<reference>``: each provider-settled store's
share, less the fee part it bore, leaves its pending account to the provider (``payout`` entries,
paid out by Paystack) and its settlement is marked released, so neither the release job nor the
payout job moves it again and a later refund is owed from ``available``.

The fee: with ``OJA_MARKETPLACE_FEE_BEARER=vendor`` the split says ``all-proportional`` and a
provider-settled store bears ``fees × share sent ÷ payment`` (rounded down, as the provider
allocates it); with ``platform`` it says ``account`` and the store bears none.

The verified ``split.shares`` are compared with the ledger's figures; any difference (a store
missing, an amount off by a kobo, a split the ledger did not send) is logged as
``marketplace.ledger.split_mismatch`` and told to the admins (``payment.split_mismatch``): the
ledger's entries stand and an operator reconciles, neither side is trusted silently. A store the
verified split does not name at all was not paid by Paystack: its share stays ledger-settled.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core import events
from oja.core.clock import utcnow
from oja.marketplace.ledger import repository
from oja.marketplace.ledger.models import (
    AccountKind,
    EntryType,
    SettlementStatus,
    StoreSettlement,
    TransactionKind,
)
from oja.marketplace.ledger.service import Leg, post
from oja.marketplace.reviews.repository import admin_ids

log = structlog.get_logger("oja.marketplace.ledger")

METADATA_KEY = "provider_split"


def split_source(reference: str) -> str:
    return f"split:{reference}"


def sent_shares(metadata: Mapping[str, Any] | None) -> dict[uuid.UUID, tuple[str, int]]:
    """What checkout sent Paystack: store order id → (subaccount code, share)."""
    raw = (metadata or {}).get(METADATA_KEY)
    found: dict[uuid.UUID, tuple[str, int]] = {}
    if not isinstance(raw, dict):
        return found
    for order_id, entry in raw.items():
        try:
            code, share = entry
            found[uuid.UUID(str(order_id))] = (str(code), int(share))
        except (TypeError, ValueError):
            continue
    return found


def fee_part(fees: int, sent_share: int, payment: int, bearer: str) -> int:
    """The provider's fee a provider-settled store bears (``all-proportional``, rounded down)."""
    if bearer != "vendor" or payment <= 0 or fees <= 0:
        return 0
    return fees * sent_share // payment


async def book(
    db: AsyncSession,
    *,
    reference: str,
    group_id: uuid.UUID,
    currency: str,
    settlements: Sequence[StoreSettlement],
    sent: Mapping[uuid.UUID, tuple[str, int]],
    verified: Mapping[str, int] | None,
) -> None:
    """Mark the provider-settled stores' shares paid out by the provider, once, and compare."""
    legs: list[Leg] = []
    expected: dict[str, int] = {}
    actual = dict(verified or {})
    for settlement in settlements:
        if settlement.order_id not in sent:
            continue
        code, _ = sent[settlement.order_id]
        net = settlement.total - settlement.commission - settlement.fee
        expected[code] = expected.get(code, 0) + net
        if code not in actual:
            continue  # Paystack did not pay this store: it stays ledger-settled (and is flagged)
        vendor, order = settlement.vendor_id, settlement.order_id
        legs.append(Leg(AccountKind.store_pending, EntryType.payout, net, vendor, order))
        legs.append(Leg(AccountKind.provider_clearing, EntryType.payout, -net, None, order))
        settlement.status = str(SettlementStatus.released)
        settlement.released_at = utcnow()
    booked = await post(
        db,
        source=split_source(reference),
        kind=TransactionKind.payout,
        currency=currency,
        legs=legs,
        group_id=group_id,
        reference=reference,
    )
    if booked is not None:  # what Paystack settled reached the stores: their paid-out totals
        paid: dict[tuple[uuid.UUID, str], int] = {}
        for leg in legs:
            if leg.kind == AccountKind.store_pending and leg.vendor_id is not None:
                key = (leg.vendor_id, currency)
                paid[key] = paid.get(key, 0) + leg.amount
        await repository.add_paid_out(db, paid)
    if expected != actual:
        log.error(
            "marketplace.ledger.split_mismatch",
            reference=reference,
            expected=expected,
            verified=actual,
        )
        await events.emit(
            "payment.split_mismatch",
            group_id=group_id,
            reference=reference,
            expected=sum(expected.values()),
            verified=sum(actual.values()),
            currency=currency,
            recipient_ids=await admin_ids(db),
        )
