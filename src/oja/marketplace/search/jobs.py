"""Search jobs: only the bulk re-indexing.

A product or variant write updates its product's index row itself, in its own unit of work
(:func:`oja.marketplace.search.service.index_products`, called by the catalogue): no job per
change. Jobs are left for what touches many products at once — a store's rename
(``reindex_store``: its name is in every product's words; also a store or category discount,
which moves indexed prices), a category's rename (``reindex_category``), and the rebuild from
scratch (``reindex``: after a deploy that changes what is indexed, or a discount that started or
ended on its own).

Sales follow the order events, in the emitter's unit of work (a rolled-back payment sells
nothing): ``order.confirmed`` (a store order paid, or confirmed by its store) adds its units,
``order.canceled`` of a confirmed order and ``return.received`` take theirs off. Importing this
module (both composition roots do, through :mod:`oja.job_modules`) subscribes them.
"""

from __future__ import annotations

import uuid
from typing import Any

from oja.core import events
from oja.core.db import current_session
from oja.core.jobs import JobContext, job
from oja.marketplace.orders.models import OrderStatus

SOLD_BEFORE_CANCEL = frozenset({OrderStatus.confirmed, OrderStatus.shipped})
"""States a canceled order may come from that had counted as sold."""


@events.on("order.confirmed")
async def count_sale(
    *, order_id: uuid.UUID | None = None, vendor_id: uuid.UUID | None = None, **_: Any
) -> None:
    # Other emitters of the name (a notification preview) carry no order: nothing to count.
    from oja.marketplace.search import service

    if order_id is not None and vendor_id is not None:
        await service.order_sold(current_session(), vendor_id, order_id, +1)


@events.on("order.canceled")
async def uncount_sale(
    *,
    order_id: uuid.UUID | None = None,
    vendor_id: uuid.UUID | None = None,
    from_status: str | None = None,
    **_: Any,
) -> None:
    from oja.marketplace.search import service

    if order_id is not None and vendor_id is not None and from_status in SOLD_BEFORE_CANCEL:
        await service.order_sold(current_session(), vendor_id, order_id, -1)


@events.on("return.received")
async def uncount_return(
    *, return_id: uuid.UUID | None = None, vendor_id: uuid.UUID | None = None, **_: Any
) -> None:
    from oja.marketplace.search import service

    if return_id is not None and vendor_id is not None:
        await service.return_received(current_session(), vendor_id, return_id)


@job("marketplace.search.reindex_store", max_attempts=3, subject=("vendor", "vendor_id"))
async def reindex_store(ctx: JobContext, *, vendor_id: uuid.UUID) -> dict[str, Any]:
    from oja.marketplace.search import service

    return {"indexed": await service.index_store(ctx.session, vendor_id)}


@job("marketplace.search.reindex_category", max_attempts=3, subject=("category", "category_id"))
async def reindex_category(ctx: JobContext, *, category_id: uuid.UUID) -> dict[str, Any]:
    from oja.marketplace.search import service

    return {"indexed": await service.index_category(ctx.session, category_id)}


@job("marketplace.search.reindex", max_attempts=3)
async def reindex(ctx: JobContext) -> dict[str, Any]:
    from oja.marketplace.search import service

    return {"indexed": await service.rebuild(ctx.session)}
