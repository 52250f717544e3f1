"""Search jobs: only the bulk re-indexing.

A product or variant write updates its product's index row itself, in its own unit of work
(:func:`oja.marketplace.search.service.index_products`, called by the catalogue): no job per
change. Jobs are left for what touches many products at once — a store's rename
(``reindex_store``: its name is in every product's words; also a store or category discount,
which moves indexed prices), a category's rename (``reindex_category``), and the rebuild from
scratch (``reindex``: after a deploy that changes what is indexed, or a discount that started or
ended on its own).
"""

from __future__ import annotations

import uuid
from typing import Any

from oja.core.jobs import JobContext, job
from oja.marketplace.search import service


@job("marketplace.search.reindex_store", max_attempts=3, subject=("vendor", "vendor_id"))
async def reindex_store(ctx: JobContext, *, vendor_id: uuid.UUID) -> dict[str, Any]:
    return {"indexed": await service.index_store(ctx.session, vendor_id)}


@job("marketplace.search.reindex_category", max_attempts=3, subject=("category", "category_id"))
async def reindex_category(ctx: JobContext, *, category_id: uuid.UUID) -> dict[str, Any]:
    return {"indexed": await service.index_category(ctx.session, category_id)}


@job("marketplace.search.reindex", max_attempts=3)
async def reindex(ctx: JobContext) -> dict[str, Any]:
    return {"indexed": await service.rebuild(ctx.session)}
