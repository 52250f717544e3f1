"""Durable background jobs: Celery for delivery, the ``job`` table as the state of record.

Declare a job with :func:`job`; enqueue it with ``my_job.enqueue(thing_id=...)`` inside a unit of work.
The row is written in the caller's transaction and the message is published only after that transaction
commits; a rollback leaves neither. A periodic sweeper re-publishes what a broker or worker dropped, and
a fenced completion makes each job's database effects happen exactly once. A job that ends ``failed``
— however it gets there, a worker killed on the last attempt included — calls its kind's failure hook
(``@my_job.on_failure``) in the transaction that fails it.
"""

from oja.core.jobs.definition import (
    EnqueueOptions,
    JobContext,
    JobDefinition,
    JobFailure,
    PermanentJobError,
    job,
    registry,
)
from oja.core.jobs.models import Job, JobStatus

__all__ = [
    "EnqueueOptions",
    "Job",
    "JobContext",
    "JobDefinition",
    "JobFailure",
    "JobStatus",
    "PermanentJobError",
    "job",
    "registry",
]
