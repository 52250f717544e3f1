"""Daily rollups of a store's sales, product sales and visitors.

Each figure is counted on the calendar day (in the store's ``time_zone``) its event happened: a
sale when its payment was booked in the ledger, a refund when the ledger booked it, a cancellation
when the order was canceled, a return when its goods were received. A closed day therefore never
changes from later events; the rollup job rewrites whole days (delete and insert in one unit of
work), so running it twice leaves the same rows. Money is integer minor units per currency.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.clock import utcnow
from oja.core.db import Base
from oja.marketplace.tenancy import VendorOwned


class StoreSalesDay(VendorOwned, Base):
    """One store's sales on one day in one currency."""

    __tablename__ = "store_sales_day"
    __table_args__ = (PrimaryKeyConstraint("vendor_id", "day", "currency"),)

    day: Mapped[date]
    currency: Mapped[str] = mapped_column(String(3))
    gross_sales: Mapped[int] = mapped_column(BigInteger, default=0)
    """What the paid orders' lines cost before discounts (tax included): ``total + discounts``."""
    discounts: Mapped[int] = mapped_column(BigInteger, default=0)
    refunds: Mapped[int] = mapped_column(BigInteger, default=0)
    """Refunds the ledger booked this day (cancellations and returns)."""
    commission: Mapped[int] = mapped_column(BigInteger, default=0)
    """Commission booked on this day's sales less commission reversed by this day's refunds."""
    orders: Mapped[int] = mapped_column(default=0)
    units: Mapped[int] = mapped_column(default=0)
    canceled: Mapped[int] = mapped_column(default=0)
    """Paid store orders canceled this day."""
    returned: Mapped[int] = mapped_column(default=0)
    """Returns whose goods were received this day."""
    returned_units: Mapped[int] = mapped_column(default=0)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


SALES_FIGURES = (
    "gross_sales",
    "discounts",
    "refunds",
    "commission",
    "orders",
    "units",
    "canceled",
    "returned",
    "returned_units",
)
"""The figure columns of :class:`StoreSalesDay`, in ``rollup.Figures``' field order (a test keeps
the two equal: rows are read as plain tuples into ``Figures``)."""


class StoreProductDay(VendorOwned, Base):
    """One product's units and revenue (line totals as sold) on one day in one currency."""

    __tablename__ = "store_product_day"
    __table_args__ = (PrimaryKeyConstraint("vendor_id", "day", "currency", "product_id"),)

    day: Mapped[date]
    currency: Mapped[str] = mapped_column(String(3))
    product_id: Mapped[uuid.UUID]
    """No foreign key: a report outlives a deleted product."""
    units: Mapped[int] = mapped_column(default=0)
    revenue: Mapped[int] = mapped_column(BigInteger, default=0)


class StoreVisitDay(VendorOwned, Base):
    """Distinct visitors (signed-in users and anonymous clients) who viewed, carted or bought a
    product of the store on one day."""

    __tablename__ = "store_visit_day"
    __table_args__ = (PrimaryKeyConstraint("vendor_id", "day"),)

    day: Mapped[date]
    visitors: Mapped[int] = mapped_column(default=0)
