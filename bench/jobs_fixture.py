"""The job ``bench/jobs.py`` measures: it does nothing, so what is timed is Oja's job machinery.

The benchmark's worker imports this module through ``OJA_WORKER_IMPORTS='["bench.jobs_fixture"]'``.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # `make bench` runs every file in bench/; this one is imported, not run.
    print("bench/jobs_fixture.py declares the job that bench/jobs.py runs; nothing to run")
    sys.exit(0)

from oja.core.jobs import JobContext, job


@job("bench.noop", timeout=10, max_attempts=1)
async def noop(ctx: JobContext) -> None:
    """Nothing: enqueue → start latency and throughput are the job system's own."""
