"""SQL for reports: the raw rows a day's figures are counted from, and the rollup tables.

Every raw read takes a :data:`Scope`: a vendor route passes its store and every vendor-owned
table in the statement is filtered on it; the rollup job passes the stores counted in one time
zone (a subquery of store ids, :func:`stores_in_zone`), or None (all stores).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, delete, func, insert, select, update
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
from oja.marketplace.reports.models import (
    SALES_FIGURES,
    StoreProductDay,
    StoreSalesDay,
    StoreVisitDay,
)
from oja.marketplace.reviews.models import Review, ReviewStatus
from oja.marketplace.vendors.models import Vendor, VendorStatus

Rows = Sequence[Row[*tuple[Any, ...]]]
"""Result rows, unpacked by position by the caller."""

VISIT_KINDS = (BehaviourKind.view, BehaviourKind.cart, BehaviourKind.purchase)

Scope = uuid.UUID | Select[uuid.UUID] | None
"""Whose rows a statement reads: one store, the stores a query of store ids selects, or all."""


def _scoped(scope: Scope, *columns: InstrumentedAttribute[Any]) -> list[Any]:
    if scope is None:
        return []
    if isinstance(scope, uuid.UUID):
        return [column == scope for column in columns]
    # The other columns are joined to the first: filtering it is enough for a set of stores.
    return [columns[0].in_(scope)]


def stores_in_zone(zone: str, default: str, *, settled: bool) -> Select[uuid.UUID]:
    """The stores whose days are counted in ``zone`` (NULL zones are ``default``): with
    ``settled``, those whose stored rollups are in it too; without, those whose rollups are still
    in the zone they had before (the rollup job rebuilds them)."""
    rolled = func.coalesce(Vendor.rollup_time_zone, default)
    return select(Vendor.id).where(
        func.coalesce(Vendor.time_zone, default) == zone,
        rolled == zone if settled else rolled != zone,
    )


async def store_zones(db: AsyncSession, default: str) -> list[str]:
    """The distinct zones stores count their days in (``default`` always among them)."""
    statement = select(func.coalesce(Vendor.time_zone, default)).distinct()
    return sorted({default, *(await db.scalars(statement)).all()})


async def zone_of_store(db: AsyncSession, vendor_id: uuid.UUID) -> tuple[str | None, str | None]:
    """(the store's zone, the zone of its stored rollups); None is ``OJA_REPORTS_TIME_ZONE``."""
    statement = select(Vendor.time_zone, Vendor.rollup_time_zone).where(Vendor.id == vendor_id)
    found = (await db.execute(statement)).one()
    return found[0], found[1]


async def moving_stores(db: AsyncSession, default: str) -> Rows:
    """(id, zone) of the stores whose rollups are not in their zone (NULL zones are ``default``)."""
    zone = func.coalesce(Vendor.time_zone, default)
    statement = (
        select(Vendor.id, zone)
        .where(zone != func.coalesce(Vendor.rollup_time_zone, default))
        .order_by(Vendor.id)
    )
    return (await db.execute(statement)).all()


async def first_rolled_day(db: AsyncSession, vendor_id: uuid.UUID) -> date | None:
    """The store's earliest stored rollup day, of any of the three rollups."""
    found = [
        await db.scalar(select(func.min(model.day)).where(model.vendor_id == vendor_id))
        for model in (StoreSalesDay, StoreProductDay, StoreVisitDay)
    ]
    return min((day for day in found if day is not None), default=None)


async def drop_days_after(db: AsyncSession, vendor_id: uuid.UUID, day: date) -> None:
    """Delete the store's rollup rows after ``day`` (stored in a zone ahead of its new one)."""
    for model in (StoreSalesDay, StoreProductDay, StoreVisitDay):
        await db.execute(delete(model).where(model.vendor_id == vendor_id, model.day > day))


async def set_rollup_zone(db: AsyncSession, vendor_id: uuid.UUID, zone: str | None) -> None:
    await db.execute(
        update(Vendor)
        .where(Vendor.id == vendor_id)
        .values(rollup_time_zone=zone)
        .execution_options(synchronize_session=False)
    )


def _between(column: Any, start: datetime, end: datetime) -> list[ColumnElement[bool]]:
    return [column >= start, column < end]


async def sale_rows(db: AsyncSession, start: datetime, end: datetime, scope: Scope) -> Rows:
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
            *_scoped(scope, StoreSettlement.vendor_id, StoreOrder.vendor_id),
        )
    )
    return (await db.execute(statement)).all()


async def line_rows(db: AsyncSession, start: datetime, end: datetime, scope: Scope) -> Rows:
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
            *_scoped(scope, StoreSettlement.vendor_id, StoreOrder.vendor_id, OrderLine.vendor_id),
        )
    )
    return (await db.execute(statement)).all()


async def refund_rows(db: AsyncSession, start: datetime, end: datetime, scope: Scope) -> Rows:
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
            *_scoped(scope, StoreOrder.vendor_id),
        )
    )
    return (await db.execute(statement)).all()


async def commission_refund_rows(
    db: AsyncSession, start: datetime, end: datetime, scope: Scope
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
            *_scoped(scope, StoreOrder.vendor_id),
        )
    )
    return (await db.execute(statement)).all()


async def cancel_rows(db: AsyncSession, start: datetime, end: datetime, scope: Scope) -> Rows:
    """Paid store orders (they have a settlement) canceled in [start, end)."""
    statement = (
        select(StoreOrder.vendor_id, StoreOrder.canceled_at, StoreOrder.currency)
        .join(StoreSettlement, StoreSettlement.order_id == StoreOrder.id)
        .where(
            StoreOrder.canceled_at.is_not(None),
            *_between(StoreOrder.canceled_at, start, end),
            *_scoped(scope, StoreOrder.vendor_id, StoreSettlement.vendor_id),
        )
    )
    return (await db.execute(statement)).all()


async def return_rows(db: AsyncSession, start: datetime, end: datetime, scope: Scope) -> Rows:
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
            *_scoped(scope, ReturnRequest.vendor_id, StoreOrder.vendor_id, ReturnLine.vendor_id),
        )
        .group_by(
            ReturnRequest.id,
            ReturnRequest.vendor_id,
            ReturnRequest.received_at,
            StoreOrder.currency,
        )
    )
    return (await db.execute(statement)).all()


async def visit_rows(db: AsyncSession, start: datetime, end: datetime, scope: Scope) -> Rows:
    """(vendor, subject, time) of every view, cart add or purchase of a store's product."""
    statement = (
        select(Product.vendor_id, BehaviourEvent.subject, BehaviourEvent.created_at)
        .join(Product, Product.id == BehaviourEvent.product_id)
        .where(
            BehaviourEvent.kind.in_([str(kind) for kind in VISIT_KINDS]),
            *_between(BehaviourEvent.created_at, start, end),
            *_scoped(scope, Product.vendor_id),
        )
    )
    return (await db.execute(statement)).all()


async def replace_days(
    db: AsyncSession,
    scope: Scope,
    *,
    first: date,
    last: date,
    sales: list[dict[str, Any]],
    products: list[dict[str, Any]],
    visits: list[dict[str, Any]],
) -> None:
    """Rewrite the scope's rollup rows of the days first..last (inclusive) with these."""
    for model in (StoreSalesDay, StoreProductDay, StoreVisitDay):
        await db.execute(
            delete(model).where(
                model.day >= first, model.day <= last, *_scoped(scope, model.vendor_id)
            )
        )
    for model, rows in (
        (StoreSalesDay, sales),
        (StoreProductDay, products),
        (StoreVisitDay, visits),
    ):
        if rows:
            await db.execute(insert(model), rows)


async def sales_days(db: AsyncSession, scope: Scope, first: date, last: date) -> Rows:
    """(store, day, currency, *figures in :data:`SALES_FIGURES` order) of the stored days: plain
    rows, not entities — a year of them is read on every report."""
    statement = select(
        StoreSalesDay.vendor_id,
        StoreSalesDay.day,
        StoreSalesDay.currency,
        *(getattr(StoreSalesDay, name) for name in SALES_FIGURES),
    ).where(
        StoreSalesDay.day >= first,
        StoreSalesDay.day <= last,
        *_scoped(scope, StoreSalesDay.vendor_id),
    )
    return (await db.execute(statement)).all()


async def visit_days(db: AsyncSession, scope: Scope, first: date, last: date) -> Rows:
    """(store, day, visitors) of the stored days."""
    statement = select(StoreVisitDay.vendor_id, StoreVisitDay.day, StoreVisitDay.visitors).where(
        StoreVisitDay.day >= first,
        StoreVisitDay.day <= last,
        *_scoped(scope, StoreVisitDay.vendor_id),
    )
    return (await db.execute(statement)).all()


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


async def fulfilment_rows(db: AsyncSession, start: datetime, end: datetime, scope: Scope) -> Rows:
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
        *_scoped(scope, StoreOrder.vendor_id),
    )
    return (await db.execute(statement)).all()


async def ratings(db: AsyncSession, scope: Scope) -> dict[uuid.UUID, tuple[int, int]]:
    """vendor → (published reviews, Σ ratings), product and store reviews alike."""
    statement = (
        select(Review.vendor_id, func.count(), func.sum(Review.rating))
        .where(Review.status == ReviewStatus.published, *_scoped(scope, Review.vendor_id))
        .group_by(Review.vendor_id)
    )
    return {row[0]: (int(row[1]), int(row[2] or 0)) for row in (await db.execute(statement)).all()}


async def reply_rows(db: AsyncSession, start: datetime, end: datetime, scope: Scope) -> Rows:
    """(vendor, reviewed at, replied at) of the replies written in the window."""
    statement = select(Review.vendor_id, Review.created_at, Review.replied_at).where(
        Review.replied_at.is_not(None),
        *_between(Review.replied_at, start, end),
        *_scoped(scope, Review.vendor_id),
    )
    return (await db.execute(statement)).all()


async def approved_stores(db: AsyncSession) -> Rows:
    """(id, name, zone, rollups' zone) of every approved store."""
    statement = (
        select(Vendor.id, Vendor.name, Vendor.time_zone, Vendor.rollup_time_zone)
        .where(Vendor.status == VendorStatus.approved)
        .order_by(Vendor.id)
    )
    return (await db.execute(statement)).all()


async def store_name(db: AsyncSession, vendor_id: uuid.UUID) -> str:
    return (await db.execute(select(Vendor.name).where(Vendor.id == vendor_id))).scalar_one()
