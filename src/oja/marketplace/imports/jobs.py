"""Background jobs of imports."""

from __future__ import annotations

import uuid
from typing import Any

from oja.core.jobs import JobContext, JobFailure, job
from oja.marketplace.imports.config import ImportsSettings

RUN_MAX_ATTEMPTS = 3


@job(
    "marketplace.imports.run",
    subject=("product_import", "import_id"),
    # The job kind's time limit is fixed when the worker imports this module: read it then.
    timeout=ImportsSettings().import_job_timeout,
    max_attempts=RUN_MAX_ATTEMPTS,
)
async def run_import(ctx: JobContext, import_id: uuid.UUID, vendor_id: uuid.UUID) -> dict[str, Any]:
    """Apply (or, for a dry run, check) an uploaded import file in committed batches."""
    from oja.marketplace.imports import service

    return await service.run(ctx, import_id, vendor_id)


@run_import.on_failure
async def run_import_failed(
    failure: JobFailure, import_id: uuid.UUID, vendor_id: uuid.UUID
) -> None:
    from oja.marketplace.imports import service

    await service.record_failure(failure.session, import_id, vendor_id, failure.error)
