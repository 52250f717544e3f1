"""The job core's CPU per job, in-process: the producer's enqueue and the worker's ``execute``.

``bench/jobs.py`` runs the whole chain (broker, worker processes), whose jobs/s swings with the load
of a shared machine. This one times the two halves that are Oja's own, in one process, as CPU
(``time.process_time``) and wall time per job, against a PostgreSQL database of its own:

- enqueue: one ``bench.noop`` job per unit of work, as a request would, with a publisher that
  takes the message and does nothing (the broker's send is Celery's, the same in any version);
- execute: ``runner.execute`` of those jobs one after another on one event loop (claim, run,
  mark), as one worker process does.

With ``--compare-src DIR`` (an older ``src/``: ``git worktree add --detach /tmp/base <rev>``) each
round runs both, interleaved (that one, then this one), in fresh processes.

    python -m bench.jobs_cost [--jobs 1000] [--rounds 3] [--compare-src /tmp/base/src]
                              [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    _bench_dir = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _bench_dir]
    sys.path.insert(0, str(_bench_dir.parent))

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import time
import uuid

from bench.common import bench_env, machine_line, markdown_table
from bench.http import load_average, scratch_database


class _NullPublisher:
    async def __call__(self, task_name: str, job_id: uuid.UUID, countdown: float) -> None:
        return None

    def hand_off(self, task_name: str, job_id: uuid.UUID, countdown: float) -> None:
        return None


def measure(database_url: str, jobs: int, warmup: int) -> dict[str, float]:
    """Runs in a child process: whichever ``oja`` its ``PYTHONPATH`` gives it."""
    from bench.jobs_fixture import noop
    from oja.core.config import Settings
    from oja.core.db import unit_of_work
    from oja.core.jobs import Registry
    from oja.core.jobs.runner import execute
    from oja.core.logging import configure_logging
    from oja.core.runtime import Runtime

    settings = Settings(database_url=database_url, log_level="WARNING")
    settings.validate()
    configure_logging("WARNING", json=True)
    registry = Registry()
    registry.add(noop)
    runtime = Runtime.create(settings, registry=registry, publisher=_NullPublisher())
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    async def enqueue(count: int) -> list[str]:
        ids = []
        for _ in range(count):
            async with unit_of_work(runtime.database) as session:
                ids.append(str(noop.enqueue(session).id))
        return ids

    def run_all(ids: list[str]) -> None:
        for job_id in ids:  # one run_until_complete per job, as the worker's task does
            outcome = loop.run_until_complete(execute(job_id, runtime, noop.kind))
            assert outcome == "succeeded", outcome

    run_all(loop.run_until_complete(enqueue(warmup)))
    cpu, wall = time.process_time(), time.perf_counter()
    ids = loop.run_until_complete(enqueue(jobs))
    enqueue_cpu, enqueue_wall = time.process_time() - cpu, time.perf_counter() - wall
    cpu, wall = time.process_time(), time.perf_counter()
    run_all(ids)
    execute_cpu, execute_wall = time.process_time() - cpu, time.perf_counter() - wall
    loop.run_until_complete(runtime.close())
    loop.close()
    return {
        "enqueue CPU ms": enqueue_cpu * 1000 / jobs,
        "enqueue wall ms": enqueue_wall * 1000 / jobs,
        "execute CPU ms": execute_cpu * 1000 / jobs,
        "execute wall ms": execute_wall * 1000 / jobs,
    }


def run_child(src: Path | None, database_url: str, jobs: int, warmup: int) -> dict[str, float]:
    env = bench_env()
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src.resolve()), env["PYTHONPATH"]])
    argv = [sys.executable, "-m", "bench.jobs_cost", "--child", database_url]
    argv += ["--jobs", str(jobs), "--warmup", str(warmup)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compare-src", type=Path, default=None)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.jobs, args.warmup)))
        return

    print(machine_line())
    print(f"{args.jobs} no-op jobs per row and round, PostgreSQL; load average {load_average()}\n")
    rows: dict[str, Path | None] = {}
    if args.compare_src is not None:
        rows[f"oja from {args.compare_src}"] = args.compare_src
    rows["oja (this checkout)"] = None
    results: dict[str, list[dict[str, float]]] = {name: [] for name in rows}
    with scratch_database(args.postgres) as dsn:
        database_url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
        for index in range(args.rounds):
            for name, src in rows.items():
                result = run_child(src, database_url, args.jobs, args.warmup)
                results[name].append(result)
                figures = ", ".join(f"{key} {value:.3f}" for key, value in result.items())
                print(f"round {index + 1}: {name}: {figures} (load average {load_average()})")
    keys = ["enqueue CPU ms", "enqueue wall ms", "execute CPU ms", "execute wall ms"]
    table = [
        [name, *(statistics.median(r[key] for r in runs) for key in keys)]
        for name, runs in results.items()
    ]
    print()
    print(markdown_table(["row (medians per job)", *keys], table))
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
