"""The Celery application the worker and beat processes run: ``celery -A oja.worker worker``.

Importing this module imports every feature module's jobs, so each declared job kind has its task.
"""

from __future__ import annotations

from oja.core.jobs.celery_app import get_celery, import_job_modules, register_tasks
from oja.core.runtime import get_runtime

FEATURE_JOB_MODULES: list[str] = [
    "oja.files.jobs",
    "oja.documents.jobs",
    "oja.rag.jobs",
    "oja.billing.jobs",
    "oja.chat.jobs",
]

settings = get_runtime().settings
import_job_modules([*FEATURE_JOB_MODULES, *settings.queue.worker_imports])
settings.load_sections()  # the feature sections just imported: an invalid value stops the start
app = get_celery()
register_tasks(app, settings.queue.job_default_timeout)
