"""Durable background jobs: the ``job`` table is the state of record, Celery one way of delivery.

The shape, from the inside out:

- **Registry** (:mod:`.definition`): ``@job`` declares a typed kind (:class:`JobDefinition`); it
  registers nothing. A composition root adds kinds to a :class:`Registry` — :mod:`oja.job_modules`
  lists every module that declares jobs, and both :func:`oja.main.create_app` and :mod:`oja.worker`
  register from it (the worker also ``OJA_WORKER_IMPORTS``). No import has a registration side effect.
- **Outbox** (:mod:`.outbox`): ``my_job.enqueue(session, thing_id=...)`` writes the row in *that*
  session's transaction and queues the message on it; the message goes to the outbox's publisher only
  after the commit, and a rollback leaves neither. Each database carries its outbox into its sessions
  (:meth:`Outbox.install`, done by :meth:`oja.core.runtime.Runtime.create`), with the registry and the
  default attempt budget.
- **Publisher port** (:class:`.outbox.Publisher`): an async callable taking the task name, the job id
  and a countdown. Tests and benchmarks pass their own to ``Runtime.create`` or ``create_app``. One
  that also has ``hand_off`` (:class:`.outbox.HandsOff`; the Celery adapter's sending thread) gets
  the after-commit messages without the caller waiting; the sweeper republishes what it loses.
- **Celery adapter** (:mod:`.celery_app`): :class:`CeleryPublisher` and :func:`register_tasks`; it
  imports the kernel, never the reverse. The worker composition root owns the one process global the
  machinery keeps: each forked worker process's runtime, which Celery cannot pass to a task.

The runner (:mod:`.runner`) claims a job with a lease, runs it in one unit of work with the runtime it
is given, and completes it fenced by the attempt; the sweeper (:mod:`.sweeper`) re-publishes what a
broker or worker dropped. A job that ends ``failed`` — however it gets there, a worker killed on the
last attempt included — calls its kind's failure hook (``@my_job.on_failure``) in the transaction
that fails it.
"""

from oja.core.jobs.definition import (
    EnqueueOptions,
    JobContext,
    JobDefinition,
    JobFailure,
    PermanentJobError,
    Registry,
    job,
)
from oja.core.jobs.models import Job, JobStatus
from oja.core.jobs.outbox import Outbox, Publisher

__all__ = [
    "EnqueueOptions",
    "Job",
    "JobContext",
    "JobDefinition",
    "JobFailure",
    "JobStatus",
    "Outbox",
    "PermanentJobError",
    "Publisher",
    "Registry",
    "job",
]
