"""SQL for reports: the raw rows a day's figures are counted from, and the rollup tables.

Every raw read takes an optional ``vendor_id``: a vendor route passes its store and every
vendor-owned table in the statement is filtered on it; the rollup job passes None (all stores).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from oja.marketplace.catalog.models import Category, Product
from oja.marketplace.ledger.models import (
    EntryType,
    LedgerPosting,
    LedgerTransaction,
    StoreSettlement,
    TransactionKind,
)
from oja.marketplace.orders.models import (
    OrderLine,
    ReturnLine,
    ReturnRequest,
    ReturnStatus,
    StoreOrder,
)
from oja.marketplace.recommendations.models import BehaviourEvent, BehaviourKind
from oja.marketplace.reports.models import StoreProductDay, StoreSalesDay, StoreVisitDay
from oja.marketplace.reviews.models import Review, ReviewStatus
from oja.marketplace.vendors.models import Vendor, VendorStatus

Rows = Sequence[Row[*tuple[Any, ...]]]
"""Result rows, unpacked by position by the caller."""

VISIT_KINDS = (BehaviourKind.view, BehaviourKind.cart, BehaviourKind.purchase)


def _scoped(vendor_id: uuid.UUID | None, *columns: InstrumentedAttribute[Any]) -> list[Any]:
    return [] if vendor_id is None else [column == vendor_id for column in columns]


def _between(column: Any, start: datetime, end: datetime) -> list[ColumnElement[bool]]:
    return [column >= start, column < end]


async def sale_rows(
    db: AsyncSession, start: datetime, end: datetime, vendor_id: uuid.UUID | None
) -> Rows:
    """Store orders whose payment was booked in [start, end): the settlement's time is the sale's."""
    statement = (
        select(
            StoreSettlement.vendor_id,
            StoreSettlement.created_at,
            StoreOrder.currency,
            StoreOrder.total,
            StoreOrder.discount_total,
            StoreSettlement.commission,
        )
        .join(StoreOrder, StoreOrder.id == StoreSettlement.order_id)
        .where(
            *_between(StoreSettlement.created_at, start, end),
            *_scoped(vendor_id, StoreSettlement.vendor_id, StoreOrder.vendor_id),
        )
    )
    return (await db.execute(statement)).all()


async def line_rows(
    db: AsyncSession, start: datetime, end: datetime, vendor_id: uuid.UUID | None
) -> Rows:
    """The lines of the orders sold in [start, end), with the sale's time."""
    statement = (
        select(
            StoreSettlement.vendor_id,
            StoreSettlement.created_at,
            StoreOrder.currency,
            OrderLine.product_id,
            OrderLine.quantity,
            OrderLine.line_total,
        )
        .join(StoreOrder, StoreOrder.id == StoreSettlement.order_id)
        .join(OrderLine, OrderLine.order_id == StoreSettlement.order_id)
        .where(
            *_between(StoreSettlement.created_at, start, end),
            *_scoped(
                vendor_id, StoreSettlement.vendor_id, StoreOrder.vendor_id, OrderLine.vendor_id
            ),
        )
    )
    return (await db.execute(statement)).all()


async def refund_rows(
    db: AsyncSession, start: datetime, end: datetime, vendor_id: uuid.UUID | None
) -> Rows:
    """Refunds the ledger booked in [start, end): (vendor, time, currency, amount)."""
    statement = (
        select(
            StoreOrder.vendor_id,
            LedgerTransaction.created_at,
            LedgerTransaction.currency,
            LedgerTransaction.amount,
        )
        .join(StoreOrder, StoreOrder.id == LedgerTransaction.order_id)
        .where(
            LedgerTransaction.kind == TransactionKind.refund,
            *_between(LedgerTransaction.created_at, start, end),
            *_scoped(vendor_id, StoreOrder.vendor_id),
        )
    )
    return (await db.execute(statement)).all()


async def commission_refund_rows(
    db: AsyncSession, start: datetime, end: datetime, vendor_id: uuid.UUID | None
) -> Rows:
    """Commission the platform gave back by the refunds booked in [start, end): (vendor, time,
    currency, amount)."""
    statement = (
        select(
            StoreOrder.vendor_id,
            LedgerTransaction.created_at,
            LedgerPosting.currency,
            LedgerPosting.amount,
        )
        .join(LedgerPosting, LedgerPosting.transaction_id == LedgerTransaction.id)
        .join(StoreOrder, StoreOrder.id == LedgerTransaction.order_id)
        .where(
            LedgerTransaction.kind == TransactionKind.refund,
            *_between(LedgerTransaction.created_at, start, end),
            LedgerPosting.entry_type == EntryType.commission_refund,
            *_scoped(vendor_id, StoreOrder.vendor_id),
        )
    )
    return (await db.execute(statement)).all()


async def cancel_rows(
    db: AsyncSession, start: datetime, end: datetime, vendor_id: uuid.UUID | None
) -> Rows:
    """Paid store orders (they have a settlement) canceled in [start, end)."""
    statement = (
        select(StoreOrder.vendor_id, StoreOrder.canceled_at, StoreOrder.currency)
        .join(StoreSettlement, StoreSettlement.order_id == StoreOrder.id)
        .where(
            StoreOrder.canceled_at.is_not(None),
            *_between(StoreOrder.canceled_at, start, end),
            *_scoped(vendor_id, StoreOrder.vendor_id, StoreSettlement.vendor_id),
        )
    )
    return (await db.execute(statement)).all()


async def return_rows(
    db: AsyncSession, start: datetime, end: datetime, vendor_id: uuid.UUID | None
) -> Rows:
    """Returns received in [start, end): (vendor, time, currency, units)."""
    statement = (
        select(
            ReturnRequest.vendor_id,
            ReturnRequest.received_at,
            StoreOrder.currency,
            func.sum(ReturnLine.quantity),
        )
        .join(StoreOrder, StoreOrder.id == ReturnRequest.order_id)
        .join(ReturnLine, ReturnLine.return_id == ReturnRequest.id)
        .where(
            ReturnRequest.status == ReturnStatus.received,
            ReturnRequest.received_at.is_not(None),
            *_between(ReturnRequest.received_at, start, end),
            *_scoped(
                vendor_id, ReturnRequest.vendor_id, StoreOrder.vendor_id, ReturnLine.vendor_id
            ),
        )
        .group_by(
            ReturnRequest.id,
            ReturnRequest.vendor_id,
            ReturnRequest.received_at,
            StoreOrder.currency,
        )
    )
    return (await db.execute(statement)).all()


async def visit_rows(
    db: AsyncSession, start: datetime, end: datetime, vendor_id: uuid.UUID | None
) -> Rows:
    """(vendor, subject, time) of every view, cart add or purchase of a store's product."""
    statement = (
        select(Product.vendor_id, BehaviourEvent.subject, BehaviourEvent.created_at)
        .join(Product, Product.id == BehaviourEvent.product_id)
        .where(
            BehaviourEvent.kind.in_([str(kind) for kind in VISIT_KINDS]),
            *_between(BehaviourEvent.created_at, start, end),
            *_scoped(vendor_id, Product.vendor_id),
        )
    )
    return (await db.execute(statement)).all()


async def replace_days(
    db: AsyncSession,
    *,
    first: date,
    last: date,
    sales: list[dict[str, Any]],
    products: list[dict[str, Any]],
    visits: list[dict[str, Any]],
) -> None:
    """Rewrite every store's rollup rows of the days first..last (inclusive) with these."""
    for model in (StoreSalesDay, StoreProductDay, StoreVisitDay):
        await db.execute(delete(model).where(model.day >= first, model.day <= last))
    for model, rows in (
        (StoreSalesDay, sales),
        (StoreProductDay, products),
        (StoreVisitDay, visits),
    ):
        if rows:
            await db.execute(insert(model), rows)


async def sales_days(
    db: AsyncSession, vendor_id: uuid.UUID | None, first: date, last: date
) -> Sequence[StoreSalesDay]:
    statement = select(StoreSalesDay).where(
        StoreSalesDay.day >= first,
        StoreSalesDay.day <= last,
        *_scoped(vendor_id, StoreSalesDay.vendor_id),
    )
    return (await db.scalars(statement)).all()


async def visit_days(
    db: AsyncSession, vendor_id: uuid.UUID | None, first: date, last: date
) -> Sequence[StoreVisitDay]:
    statement = select(StoreVisitDay).where(
        StoreVisitDay.day >= first,
        StoreVisitDay.day <= last,
        *_scoped(vendor_id, StoreVisitDay.vendor_id),
    )
    return (await db.scalars(statement)).all()


async def product_totals(db: AsyncSession, vendor_id: uuid.UUID, first: date, last: date) -> Rows:
    """(product id, currency, units, revenue) over the days first..last."""
    statement = (
        select(
            StoreProductDay.product_id,
            StoreProductDay.currency,
            func.sum(StoreProductDay.units),
            func.sum(StoreProductDay.revenue),
        )
        .where(
            StoreProductDay.vendor_id == vendor_id,
            StoreProductDay.day >= first,
            StoreProductDay.day <= last,
        )
        .group_by(StoreProductDay.product_id, StoreProductDay.currency)
    )
    return (await db.execute(statement)).all()


async def product_names(
    db: AsyncSession, vendor_id: uuid.UUID, product_ids: set[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, uuid.UUID | None, str | None]]:
    """product id → (title, category id, category name), for the store's own products."""
    if not product_ids:
        return {}
    statement = (
        select(Product.id, Product.title, Product.category_id, Category.name)
        .outerjoin(Category, Category.id == Product.category_id)
        .where(Product.vendor_id == vendor_id, Product.id.in_(product_ids))
    )
    return {row[0]: (row[1], row[2], row[3]) for row in (await db.execute(statement)).all()}


async def fulfilment_rows(
    db: AsyncSession, start: datetime, end: datetime, vendor_id: uuid.UUID | None
) -> Rows:
    """(vendor, confirmed at, shipped at, delivered at) of orders shipped or delivered in the
    window."""
    statement = select(
        StoreOrder.vendor_id,
        StoreOrder.confirmed_at,
        StoreOrder.shipped_at,
        StoreOrder.delivered_at,
    ).where(
        StoreOrder.confirmed_at.is_not(None),
        ((StoreOrder.shipped_at >= start) & (StoreOrder.shipped_at < end))
        | ((StoreOrder.delivered_at >= start) & (StoreOrder.delivered_at < end)),
        *_scoped(vendor_id, StoreOrder.vendor_id),
    )
    return (await db.execute(statement)).all()


async def ratings(
    db: AsyncSession, vendor_id: uuid.UUID | None
) -> dict[uuid.UUID, tuple[int, int]]:
    """vendor → (published reviews, Σ ratings), product and store reviews alike."""
    statement = (
        select(Review.vendor_id, func.count(), func.sum(Review.rating))
        .where(Review.status == ReviewStatus.published, *_scoped(vendor_id, Review.vendor_id))
        .group_by(Review.vendor_id)
    )
    return {row[0]: (int(row[1]), int(row[2] or 0)) for row in (await db.execute(statement)).all()}


async def reply_rows(
    db: AsyncSession, start: datetime, end: datetime, vendor_id: uuid.UUID | None
) -> Rows:
    """(vendor, reviewed at, replied at) of the replies written in the window."""
    statement = select(Review.vendor_id, Review.created_at, Review.replied_at).where(
        Review.replied_at.is_not(None),
        *_between(Review.replied_at, start, end),
        *_scoped(vendor_id, Review.vendor_id),
    )
    return (await db.execute(statement)).all()


async def approved_stores(db: AsyncSession) -> Rows:
    """(id, name, slug) of every approved store."""
    statement = (
        select(Vendor.id, Vendor.name, Vendor.slug)
        .where(Vendor.status == VendorStatus.approved)
        .order_by(Vendor.id)
    )
    return (await db.execute(statement)).all()


async def store_name(db: AsyncSession, vendor_id: uuid.UUID) -> str:
    return (await db.execute(select(Vendor.name).where(Vendor.id == vendor_id))).scalar_one()
