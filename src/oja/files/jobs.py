"""Background jobs of the files module."""

from __future__ import annotations

import uuid
from typing import Any

from oja.core.jobs import JobContext, JobFailure, job
from oja.files.config import FilesSettings

PROCESS_MAX_ATTEMPTS = 3


@job(
    "files.process",
    subject=("file", "file_id"),
    # The job kind's time limit is fixed when the worker imports this module: read it then.
    timeout=FilesSettings().file_process_timeout,
    max_attempts=PROCESS_MAX_ATTEMPTS,
)
async def process_file(ctx: JobContext, file_id: uuid.UUID) -> dict[str, Any]:
    """Verify, sniff, extract text and render image variants; see :mod:`.processing.pipeline`."""
    from oja.files.processing import pipeline

    return await pipeline.process(ctx, file_id, max_attempts=PROCESS_MAX_ATTEMPTS)


@process_file.on_failure
async def process_file_failed(failure: JobFailure, file_id: uuid.UUID) -> None:
    """The job is ``failed``: so is the file, unless it already ended or a retry replaced the job.

    Usually the pipeline has failed the file itself and this finds nothing to do; it matters when
    the worker died on the last attempt (the sweeper fails the job) or the job's time limit cut it.
    """
    from oja.files.processing import pipeline

    await pipeline.record_failure(failure.session, file_id, failure.error, job_id=failure.job_id)
