"""Background jobs of the files module."""

from __future__ import annotations

import uuid
from typing import Any

from oja.core.jobs import JobContext, job
from oja.files.config import get_files_settings

PROCESS_MAX_ATTEMPTS = 3


@job(
    "files.process",
    subject=("file", "file_id"),
    timeout=get_files_settings().file_process_timeout,
    max_attempts=PROCESS_MAX_ATTEMPTS,
)
async def process_file(ctx: JobContext, file_id: uuid.UUID) -> dict[str, Any]:
    """Verify, sniff, extract text and render image variants; see :mod:`.processing.pipeline`."""
    from oja.files.processing import pipeline

    return await pipeline.process(ctx, file_id, max_attempts=PROCESS_MAX_ATTEMPTS)
