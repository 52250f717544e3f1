"""Background jobs of AliExpress: an import's run, the periodic sync of imported products, and
the periodic refresh of connections' tokens."""

from __future__ import annotations

import uuid
from typing import Any

from oja.core.jobs import JobContext, JobFailure, job
from oja.marketplace.aliexpress.config import AliExpressImportSettings

IMPORT_MAX_ATTEMPTS = 3
# Time limits and intervals are fixed when the worker (or beat) imports this module: read them then.
_SETTINGS = AliExpressImportSettings()


@job(
    "marketplace.aliexpress.import",
    subject=("product_import", "import_id"),
    timeout=_SETTINGS.aliexpress_job_timeout,
    max_attempts=IMPORT_MAX_ATTEMPTS,
)
async def import_products(
    ctx: JobContext, import_id: uuid.UUID, vendor_id: uuid.UUID
) -> dict[str, Any]:
    """Read the requested AliExpress products and write them into the store in batches."""
    from oja.marketplace.aliexpress import imports

    return await imports.run(ctx, import_id, vendor_id)


@import_products.on_failure
async def import_products_failed(
    failure: JobFailure, import_id: uuid.UUID, vendor_id: uuid.UUID
) -> None:
    from oja.marketplace.imports import service

    await service.record_failure(failure.session, import_id, vendor_id, failure.error)


@job(
    "marketplace.aliexpress.sync",
    timeout=_SETTINGS.aliexpress_job_timeout,
    max_attempts=1,
    periodic=_SETTINGS.aliexpress_sync_interval,
)
async def sync_products(ctx: JobContext) -> dict[str, Any]:
    """Re-read the least recently synced imported products: cost, stock, price, availability."""
    from oja.marketplace.aliexpress import sync

    return dict(await sync.sync(ctx))


@job("marketplace.aliexpress.refresh_tokens", timeout=600, max_attempts=1, periodic=900.0)
async def refresh_tokens(ctx: JobContext) -> dict[str, Any]:
    """Renew AliExpress access tokens before they lapse (test-status apps: one day)."""
    from oja.marketplace.aliexpress import sync

    return dict(await sync.refresh_tokens(ctx))
