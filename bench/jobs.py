"""Job machinery: enqueue → start latency and throughput of a no-op job, per broker, in one run.

For each broker (the embedded filesystem broker as kombu ships it — the "before" — then Oja's own
filesystem transport, then Redis on 127.0.0.1:6379/15) the benchmark
makes a fresh var dir with a migrated SQLite database, starts ``oja worker --concurrency 2`` in its
own process group, warms it up, then enqueues N ``bench.noop`` jobs back to back from this process,
each in its own unit of work as a request would. Once every job has finished it reads the job table:

- latency = ``started_at - created_at`` per job (commit, publish, broker delivery, claim);
- jobs/s = N / (last ``finished_at`` - first ``created_at``);
- enqueue/s = how fast this one producer wrote and published them.

Back to back, the latency is mostly queueing whenever the worker is slower than the producer, so
the benchmark also enqueues a few jobs one at a time, each after the previous one finished: their
latency is the idle machinery's ("idle p50 ms").

    python bench/jobs.py [--jobs 500] [--idle-jobs 30] [--redis-url redis://127.0.0.1:6379/15]
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/jobs.py` puts bench/ first on sys.path, where bench/http.py would shadow the
# standard library's `http` package for everything imported later; put the repository root there.
if __name__ == "__main__":
    _bench_dir = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _bench_dir]
    sys.path.insert(0, str(_bench_dir.parent))

import argparse
import asyncio
import json
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select

from bench.common import (
    bench_env,
    machine_line,
    markdown_table,
    percentile,
    start_process,
    stop_process,
)
from bench.jobs_fixture import noop
from bench.jobs_kombu import KOMBU_FILESYSTEM
from oja.core.config import Settings
from oja.core.db import own_transaction, unit_of_work
from oja.core.jobs import Job, JobStatus, Registry, celery_app
from oja.core.jobs.celery_app import CeleryPublisher, create_celery
from oja.core.jobs.fsbroker import TRANSPORT as OJA_FILESYSTEM
from oja.core.migrate import upgrade
from oja.core.runtime import Runtime

CONCURRENCY = 2


@dataclass
class Result:
    broker: str
    jobs: int
    jobs_per_s: float
    p50_ms: float
    p99_ms: float
    idle_p50_ms: float
    enqueue_per_s: float
    note: str = ""


class WorkerDied(RuntimeError):
    pass


async def enqueue(runtime: Runtime, count: int) -> list[uuid.UUID]:
    """``count`` jobs, one unit of work each: the row commits, then the message is published."""
    ids = []
    for _ in range(count):
        async with unit_of_work(runtime.database) as session:
            ids.append(noop.enqueue(session).id)
    return ids


async def wait_done(
    runtime: Runtime,
    ids: list[uuid.UUID],
    worker: subprocess.Popen[bytes],
    timeout: float,
    *,
    poll: float = 0.1,
) -> None:
    """Poll the job table until every job in ``ids`` has finished (succeeded or failed)."""
    deadline = time.monotonic() + timeout
    finished = {JobStatus.succeeded, JobStatus.failed}
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise WorkerDied(f"the worker exited with {worker.returncode}")
        async with own_transaction(runtime.database) as session:
            rows = await session.execute(
                select(Job.status, func.count()).where(Job.id.in_(ids)).group_by(Job.status)
            )
            counts = {str(status): n for status, n in rows.all()}
        if sum(n for status, n in counts.items() if status in finished) == len(ids):
            return
        await asyncio.sleep(poll)
    raise TimeoutError(f"jobs not finished after {timeout:g} s: {counts}")


async def latencies_ms(runtime: Runtime, ids: list[uuid.UUID]) -> list[float]:
    async with own_transaction(runtime.database) as session:
        rows = await session.execute(
            select(Job.created_at, Job.started_at).where(
                Job.id.in_(ids), Job.started_at.is_not(None)
            )
        )
        return [(started - created).total_seconds() * 1000 for created, started in rows.all()]


async def measure(
    settings: Settings,
    worker: subprocess.Popen[bytes],
    *,
    jobs: int,
    idle_jobs: int,
    warmup: int,
    timeout: float,
) -> tuple[float, float, float, float, float, int]:
    # The producer's side, wired as the API's composition root wires it: Celery as the publisher.
    celery = create_celery(settings)
    registry = Registry()
    registry.add(noop)
    runtime = Runtime.create(settings, registry=registry, publisher=CeleryPublisher(celery))
    try:
        # Warm-up doubles as the readiness check: the worker is up once it has run these.
        await wait_done(runtime, await enqueue(runtime, warmup), worker, timeout)
        idle_ids = []
        for _ in range(idle_jobs):
            idle_ids += await enqueue(runtime, 1)
            await wait_done(runtime, idle_ids[-1:], worker, timeout, poll=0.005)
        idle = await latencies_ms(runtime, idle_ids)
        began = time.perf_counter()
        ids = await enqueue(runtime, jobs)
        enqueue_per_s = jobs / (time.perf_counter() - began)
        await wait_done(runtime, ids, worker, timeout)
        async with own_transaction(runtime.database) as session:
            rows = (
                await session.execute(
                    select(Job.status, Job.created_at, Job.started_at, Job.finished_at).where(
                        Job.id.in_(ids)
                    )
                )
            ).all()
    finally:
        await asyncio.to_thread(celery.close)
        await runtime.close()
    failed = sum(1 for row in rows if row.status != JobStatus.succeeded)
    done = [row for row in rows if row.started_at is not None and row.finished_at is not None]
    latencies = [(row.started_at - row.created_at).total_seconds() * 1000 for row in done]
    jobs_per_s = float("nan")
    if done:
        span = max(row.finished_at for row in done) - min(row.created_at for row in rows)
        jobs_per_s = len(done) / span.total_seconds()
    return (
        jobs_per_s,
        percentile(latencies, 50),
        percentile(latencies, 99),
        percentile(idle, 50),
        enqueue_per_s,
        failed,
    )


def run_broker(
    name: str,
    broker_url: str | None,
    work: Path,
    *,
    jobs: int,
    idle_jobs: int,
    warmup: int,
    timeout: float,
    kombu_filesystem: bool = False,
) -> Result:
    var_dir = work / name.split(maxsplit=1)[0].lower().strip(",")
    if kombu_filesystem:
        var_dir = var_dir.with_name(f"{var_dir.name}-kombu")
    overrides = {"var_dir": var_dir, "log_level": "WARNING"}
    imports = ["bench.jobs_fixture", *(["bench.jobs_kombu"] if kombu_filesystem else [])]
    env = bench_env(
        OJA_VAR_DIR=str(var_dir),
        OJA_LOG_LEVEL="WARNING",
        OJA_WORKER_IMPORTS=json.dumps(imports),
    )
    celery_app.FILESYSTEM_TRANSPORT = KOMBU_FILESYSTEM if kombu_filesystem else OJA_FILESYSTEM
    if broker_url:
        overrides["broker_url"] = broker_url
        env["OJA_BROKER_URL"] = broker_url
    settings = Settings(**overrides)
    settings.validate()  # makes the development secret the worker will share
    upgrade(settings.database_url)

    log_path = work / f"{var_dir.name}-worker.log"
    argv = [sys.executable, "-m", "oja.cli", "worker", "--concurrency", str(CONCURRENCY)]
    worker = start_process(argv, env=env, log_path=log_path)
    try:
        measured = asyncio.run(
            measure(
                settings, worker, jobs=jobs, idle_jobs=idle_jobs, warmup=warmup, timeout=timeout
            )
        )
    except (WorkerDied, TimeoutError) as exc:
        print(f"\n{name}: {exc}; worker log tail:", file=sys.stderr)
        print(log_path.read_text(errors="replace")[-4000:], file=sys.stderr)
        nan = float("nan")
        return Result(name, jobs, nan, nan, nan, nan, nan, str(exc))
    finally:
        stop_process(worker)
    jobs_per_s, p50, p99, idle_p50, enqueue_per_s, failed = measured
    note = f"{failed} failed" if failed else ""
    return Result(name, jobs, jobs_per_s, p50, p99, idle_p50, enqueue_per_s, note)


def redis_reachable(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=500, help="jobs measured per broker")
    parser.add_argument("--idle-jobs", type=int, default=30, help="jobs enqueued one at a time")
    parser.add_argument("--warmup", type=int, default=20, help="jobs run first, not measured")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait per batch")
    args = parser.parse_args()

    print(machine_line())
    print(
        f"oja worker --concurrency {CONCURRENCY}, SQLite job table; per broker {args.warmup} "
        f"warm-up jobs, {args.idle_jobs} jobs one at a time (idle), then {args.jobs} jobs "
        "enqueued back to back by one producer (jobs/s, p50, p99)\n"
    )
    # name → (URL, kombu's own filesystem transport instead of Oja's)
    brokers: dict[str, tuple[str | None, bool]] = {
        "filesystem, kombu's (before)": (None, True),
        "filesystem (embedded)": (None, False),
        f"Redis ({args.redis_url.removeprefix('redis://')})": (args.redis_url, False),
    }
    results = []
    with tempfile.TemporaryDirectory(prefix="oja-bench-jobs-") as tmp:
        for name, (url, kombu_filesystem) in brokers.items():
            if url and not redis_reachable(url):
                nan = float("nan")
                note = "skipped: Redis unreachable"
                results.append(Result(name, 0, nan, nan, nan, nan, nan, note))
                continue
            results.append(
                run_broker(
                    name,
                    url,
                    Path(tmp),
                    jobs=args.jobs,
                    idle_jobs=args.idle_jobs,
                    warmup=args.warmup,
                    timeout=args.timeout,
                    kombu_filesystem=kombu_filesystem,
                )
            )

    headers = ["broker", "jobs", "jobs/s", "p50 ms", "p99 ms", "idle p50 ms", "enqueue/s", "note"]
    rows = [
        [r.broker, r.jobs, r.jobs_per_s, r.p50_ms, r.p99_ms, r.idle_p50_ms, r.enqueue_per_s, r.note]
        for r in results
    ]
    print(markdown_table(headers, rows))


if __name__ == "__main__":
    main()
