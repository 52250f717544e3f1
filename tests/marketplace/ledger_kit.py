"""Order groups written straight into the tables (no catalogue, no checkout), for the ledger's
tests and its benchmark (the ledger's invariants are ``oja.marketplace.ledger.checks``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.identity.models import User
from oja.marketplace.ledger.models import LedgerAccount, LedgerTransaction
from oja.marketplace.orders.models import (
    GroupStatus,
    OrderGroup,
    OrderLine,
    OrderStatus,
    StoreOrder,
)
from oja.marketplace.vendors.models import Vendor, VendorStatus


async def people(db: AsyncSession, stores: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A buyer and ``stores`` approved stores."""
    tag = uuid.uuid4().hex[:10]
    buyer = User(email=f"buyer-{tag}@example.com")
    vendors = [
        Vendor(name=f"Store {n} {tag}", slug=f"store-{n}-{tag}", status=VendorStatus.approved)
        for n in range(stores)
    ]
    db.add_all([buyer, *vendors])
    await db.flush()
    return buyer.id, [v.id for v in vendors]


def group_rows(
    buyer_id: uuid.UUID,
    lines: Mapping[uuid.UUID, Sequence[int]],
    *,
    reference: str | None = None,
    status: GroupStatus = GroupStatus.paid,
) -> tuple[OrderGroup, list[StoreOrder], list[OrderLine]]:
    """A group with one store order per store of ``lines`` (store → line totals), confirmed."""
    now = utcnow()
    total = sum(sum(v) for v in lines.values())
    group = OrderGroup(
        id=uuid.uuid4(),
        buyer_id=buyer_id,
        status=str(status),
        currency="NGN",
        subtotal=total,
        discount_total=0,
        total=total,
        shipping_address={},
        provider="paystack",
        payment_reference=reference or f"oja-ledger-{uuid.uuid4().hex}",
        expires_at=now + timedelta(minutes=30),
        paid_at=now if status == GroupStatus.paid else None,
    )
    orders, made = [], []
    for vendor_id, totals in lines.items():
        order = StoreOrder(
            id=uuid.uuid4(),
            vendor_id=vendor_id,
            group_id=group.id,
            buyer_id=buyer_id,
            status=str(OrderStatus.confirmed),
            currency="NGN",
            subtotal=sum(totals),
            discount_total=0,
            total=sum(totals),
        )
        orders.append(order)
        made.extend(
            OrderLine(
                id=uuid.uuid4(),
                vendor_id=vendor_id,
                order_id=order.id,
                title="Tea",
                sku=f"TEA-{n}",
                options={},
                quantity=1,
                unit_price=amount,
                line_total=amount,
            )
            for n, amount in enumerate(totals)
        )
    return group, orders, made


async def add_group(
    db: AsyncSession,
    buyer_id: uuid.UUID,
    lines: Mapping[uuid.UUID, Sequence[int]],
    **options: object,
) -> tuple[OrderGroup, list[StoreOrder], list[OrderLine]]:
    group, orders, made = group_rows(buyer_id, lines, **options)  # type: ignore[arg-type]
    db.add(group)
    await db.flush()
    db.add_all(orders)
    await db.flush()
    db.add_all(made)
    await db.flush()
    return group, orders, made


async def balances(db: AsyncSession) -> dict[str, int]:
    """Every account's running balance, by key."""
    return dict((await db.execute(select(LedgerAccount.key, LedgerAccount.balance))).all())


async def transaction_count(db: AsyncSession) -> int:
    return int((await db.execute(select(func.count()).select_from(LedgerTransaction))).scalar_one())
