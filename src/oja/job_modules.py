"""Every module that declares jobs, in one place: the composition roots register them from here.

``@job`` only declares a kind; a process runs the kinds its root adds to its registry. The API
(:func:`oja.main.create_app`) and the worker (:mod:`oja.worker`) both call :func:`job_registry`, so
the API can enqueue, and its sweeper-facing operations resolve, exactly the kinds the worker runs.
Importing ``oja.rag.jobs`` also subscribes retrieval to the documents events.

A jobs module imports at its top only what declaring its kinds and its event subscriptions needs
(the kernel, its settings section, the modules it imports for their subscriptions); a job imports
the service it runs inside its function. Every worker start imports every jobs module, and most
starts run few kinds: a service (with numpy, jinja2, PIL, a provider's SDK) is loaded by the first
job that needs it, once per process (tests/test_process_imports.py keeps it so).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from oja.core.jobs.definition import Registry

JOB_MODULES: list[str] = [
    "oja.core.jobs.builtin",
    "oja.files.jobs",
    "oja.documents.jobs",
    "oja.rag.jobs",
    "oja.billing.jobs",
    "oja.chat.jobs",
    "oja.realtime.jobs",
    "oja.marketplace.orders.jobs",
    "oja.marketplace.catalog.jobs",
    "oja.marketplace.imports.jobs",
    "oja.marketplace.aliexpress.jobs",
    "oja.marketplace.checkout.jobs",
    "oja.marketplace.plans.jobs",
    "oja.notifications.jobs",
    "oja.marketplace.reviews.jobs",
    "oja.marketplace.recommendations.jobs",
    "oja.marketplace.search.jobs",
    "oja.marketplace.ledger.jobs",
    "oja.marketplace.payouts.jobs",
    "oja.marketplace.vendors.jobs",
    "oja.marketplace.reports.jobs",
]


def register_jobs(registry: Registry, extra: Iterable[str] = ()) -> Registry:
    """Add the jobs of :data:`JOB_MODULES` and of ``extra`` (``OJA_WORKER_IMPORTS``: modules a
    deployment or a test adds, imported in order) to ``registry``."""
    for name in [*JOB_MODULES, *extra]:
        registry.add_module(importlib.import_module(name))
    return registry


def job_registry(extra: Iterable[str] = ()) -> Registry:
    """A registry of every job kind (see :func:`register_jobs`)."""
    return register_jobs(Registry(), extra)
