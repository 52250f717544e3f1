"""Keeping the search index equal to the catalogue.

``catalog.product.changed`` (any product or variant write) → ``marketplace.search.index_product``
in the writer's unit of work (a rolled-back write indexes nothing). A product that stops being
active leaves the index in that same unit of work, so it is never found after the write commits.
``marketplace.search.reindex`` rebuilds the whole index from the catalogue (after a deploy that
changes what is indexed, a store's status change, a discount that started or ended).
"""

from __future__ import annotations

import uuid
from typing import Any

from oja.core import events
from oja.core.db import current_session
from oja.core.jobs import JobContext, job
from oja.core.runtime import current_runtime
from oja.marketplace.catalog.models import ProductStatus
from oja.marketplace.search import repository, service

PRODUCT_CHANGED = "catalog.product.changed"


@job("marketplace.search.index_product", max_attempts=5, subject=("product", "product_id"))
async def index_product(ctx: JobContext, *, product_id: uuid.UUID) -> dict[str, Any]:
    indexed = await service.index_products(ctx.session, ctx.runtime.cache, [product_id])
    return {"indexed": indexed}


@job("marketplace.search.reindex", max_attempts=3)
async def reindex(ctx: JobContext) -> dict[str, Any]:
    return {"indexed": await service.rebuild(ctx.session, ctx.runtime.cache)}


@events.on(PRODUCT_CHANGED)
async def on_product_changed(*, vendor_id: uuid.UUID, product_id: uuid.UUID, **_: Any) -> None:
    session = current_session()
    status = await repository.product_status(session, vendor_id, product_id)
    if status != ProductStatus.active:
        await service.unindex(session, [product_id])
        service.bump_version_after_commit(session, current_runtime().cache)
    index_product.enqueue(session, product_id=product_id)
