"""Puts kombu's own filesystem transport back, for the "before" row of ``bench/jobs.py``.

The benchmark's worker imports this module (``OJA_WORKER_IMPORTS``) before it builds its Celery app,
and the benchmark sets the same in its own process, so both ends use the transport Oja replaced.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # `make bench` runs every file in bench/; this one is imported, not run.
    print(
        "bench/jobs_kombu.py selects kombu's filesystem transport for bench/jobs.py; nothing to run"
    )
    sys.exit(0)

from oja.core.jobs import celery_app

KOMBU_FILESYSTEM = "kombu.transport.filesystem:Transport"
celery_app.FILESYSTEM_TRANSPORT = KOMBU_FILESYSTEM
