"""Background jobs of the catalogue."""

from __future__ import annotations

import uuid
from typing import Any

from oja.core.jobs import JobContext, job

# The image service (and PIL, the vendors' service) is imported by the job that runs it: a worker
# process that fetches no image does not load it (tests/test_process_imports.py).

FETCH_MAX_ATTEMPTS = 4


@job(
    "marketplace.product_image.fetch",
    subject=("product", "product_id"),
    # A download is bounded by OJA_PRODUCT_IMAGE_FETCH_TIMEOUT; storing it by the storage's own.
    timeout=120.0,
    max_attempts=FETCH_MAX_ATTEMPTS,
)
async def fetch_product_image(
    ctx: JobContext, vendor_id: uuid.UUID, product_id: uuid.UUID, url: str, position: int
) -> dict[str, Any]:
    """Download ``url`` into one image of the store's product, once per product and URL.

    Enqueued by bulk imports. A refused URL (private address, not an image, too big, a 4xx) fails
    the job at once with the reason as its error; a 5xx, timeout or lost connection is retried.
    The file's processing (listing, detail, thumbnail sizes) is a job of its own, queued here.
    """
    from oja.marketplace.catalog import images

    return await images.fetch_into_product(
        ctx, vendor_id=vendor_id, product_id=product_id, url=url, position=position
    )
