"""What makes a table vendor-owned, and the one way vendor routes learn which store they act for.

A table mixing in :class:`VendorOwned` carries ``vendor_id``; every repository statement that
reads, changes or deletes its rows filters on ``vendor_id`` (tests/marketplace/test_scoping.py
fails otherwise). The only exception is resolving the tenant itself: the caller's membership is
found by ``vendor_member.user_id``.
"""

from __future__ import annotations

import uuid
from typing import cast

from sqlalchemy import ForeignKey, Table
from sqlalchemy.orm import Mapped, mapped_column


class VendorOwned:
    """Rows owned by one store. Their queries are always scoped by ``vendor_id``."""

    vendor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vendor.id", ondelete="CASCADE"), index=True
    )


def vendor_owned_tables() -> frozenset[str]:
    """Names of every table whose model mixes in :class:`VendorOwned`."""
    # Imported here: the models import this module for the mixin.
    import oja.marketplace.aliexpress.models
    import oja.marketplace.catalog.models
    import oja.marketplace.checkout.models
    import oja.marketplace.imports.models
    import oja.marketplace.inventory.models
    import oja.marketplace.ledger.models
    import oja.marketplace.orders.models
    import oja.marketplace.payouts.models
    import oja.marketplace.plans.models
    import oja.marketplace.pricing.models
    import oja.marketplace.reports.models
    import oja.marketplace.reviews.models
    import oja.marketplace.vendors.models  # noqa: F401
    from oja.core.db import Base

    return frozenset(
        cast(Table, mapper.local_table).name
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, VendorOwned)
    )
