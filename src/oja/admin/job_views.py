"""The ``job`` table: what ran, what failed and why, and a retry for what failed."""

from __future__ import annotations

from typing import Any, ClassVar

from sqladmin import action
from sqladmin.filters import AllUniqueStringValuesFilter
from starlette.requests import Request
from starlette.responses import RedirectResponse

from oja.admin import operations
from oja.admin.base import (
    ReadOnlyView,
    back_to_list,
    refuse_cross_site,
    runtime_of,
    selected_ids,
    values_filter,
)
from oja.core.jobs import Job

ERROR_PREVIEW = 120
"""Characters of ``last_error`` shown in the list; the details page shows it whole."""


def _attempts(job: Job, _: Any) -> str:
    return f"{job.attempts}/{job.max_attempts}"


def _error_preview(job: Job, _: Any) -> str:
    error = job.last_error or ""
    return error if len(error) <= ERROR_PREVIEW else error[: ERROR_PREVIEW - 1] + "…"


class JobView(ReadOnlyView, model=Job):
    name = "Job"
    icon = "fa-solid fa-gears"
    column_list: ClassVar[Any] = [
        Job.kind,
        Job.status,
        Job.attempts,
        Job.progress,
        Job.last_error,
        Job.created_at,
        Job.finished_at,
    ]
    column_details_list: ClassVar[Any] = [
        Job.id,
        Job.kind,
        Job.status,
        Job.attempts,
        Job.max_attempts,
        Job.progress,
        Job.message,
        Job.last_error,
        Job.subject_type,
        Job.subject_id,
        Job.payload,
        Job.result,
        Job.dedupe_key,
        Job.run_after,
        Job.published_at,
        Job.lease_expires_at,
        Job.created_at,
        Job.started_at,
        Job.finished_at,
        Job.updated_at,
    ]
    column_labels: ClassVar[Any] = {
        Job.kind: "Kind",
        Job.status: "Status",
        Job.attempts: "Attempts",
        Job.progress: "Progress %",
        Job.last_error: "Last error",
        Job.created_at: "Created",
        Job.finished_at: "Finished",
    }
    column_formatters: ClassVar[Any] = {Job.attempts: _attempts, Job.last_error: _error_preview}
    column_filters: ClassVar[Any] = [
        values_filter(Job.status),
        AllUniqueStringValuesFilter(Job.kind),
    ]
    column_searchable_list: ClassVar[Any] = [Job.kind, Job.subject_id]
    column_sortable_list: ClassVar[Any] = [Job.created_at, Job.kind, Job.status]
    column_default_sort: ClassVar[Any] = [(Job.created_at, True)]

    @action("retry", "Retry failed jobs")
    async def retry(self, request: Request) -> RedirectResponse:
        refuse_cross_site(request)
        requested = selected_ids(request)
        requeued = await operations.retry_failed_jobs(runtime_of(request).database, requested)
        message = f"Re-queued {len(requeued)} of {len(requested)} selected job(s)."
        if len(requeued) < len(requested):
            message += " Only failed jobs can be retried."
        return back_to_list(self, request, message, ok=bool(requeued))
