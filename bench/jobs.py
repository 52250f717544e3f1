"""Job machinery: enqueue → start latency and throughput of a no-op job, per broker, in one run.

For each broker (the embedded filesystem broker as kombu ships it — the "before" — then Oja's own
filesystem transport, then Redis on 127.0.0.1:6379/15) the benchmark
makes a fresh var dir with a migrated job table — SQLite, or with ``--postgres`` a scratch
PostgreSQL database created for the run and dropped at the end — starts ``oja worker --concurrency
2`` in its own process group, warms it up, then enqueues N ``bench.noop`` jobs back to back from
this process, each in its own unit of work as a request would. Once every job has finished it reads
the job table:

- latency = ``started_at - created_at`` per job (commit, publish, broker delivery, claim);
- jobs/s = N / (last ``finished_at`` - first ``created_at``);
- enqueue/s = how fast this one producer wrote and published them.

Back to back, the latency is mostly queueing whenever the worker is slower than the producer, so
the benchmark also enqueues a few jobs one at a time, each after the previous one finished: their
latency is the idle machinery's ("idle p50 ms": enqueue → start; "idle done p50 ms": enqueue →
finished, the job row marked).

The baseline, on the same Redis and in the same run: raw Celery (``bench/jobs_celery_fixture.py``)
running a no-op task with ``--concurrency 2``, sent with ``send_task`` by the same producer, no job
table — once with Celery's defaults (acknowledged on receipt, prefetch 4) and once with Oja's
delivery settings (``acks_late``, prefetch 1). The row ``awaited`` is Oja on Redis with each caller
waiting for its publish after the commit (the producer before the outbox's hand-off to one sending
thread), for a before/after in the same run. Rounds are interleaved (each round runs every row
once) and the table shows medians.

Wall-clock rates on a shared machine swing with the neighbours' load (the same row ran 49 and 189
jobs/s ten minutes apart), so each row also shows CPU per job of the back-to-back batch: the
producer's (``time.process_time``, its sending thread included) and the worker's (utime + stime of
its process group from ``/proc``). To compare another checkout's ``oja`` with the same benchmark,
run it with ``PYTHONPATH=<that checkout>/src`` (the worker inherits it), alternating with this one.

    python -m bench.jobs [--jobs 500] [--idle-jobs 30] [--rounds 2] [--brokers awaited,redis,raw]
                         [--redis-url redis://127.0.0.1:6379/15]
                         [--postgres postgresql://postgres@127.0.0.1:5432/test]
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
import contextlib
import json
import math
import os
import statistics
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
from bench.http import load_average, scratch_database
from bench.jobs_fixture import noop
from bench.jobs_kombu import KOMBU_FILESYSTEM
from oja.core.config import Settings
from oja.core.db import own_transaction, unit_of_work
from oja.core.jobs import Job, JobStatus, Registry, celery_app
from oja.core.jobs.celery_app import CeleryPublisher, create_celery
from oja.core.jobs.fsbroker import TRANSPORT as OJA_FILESYSTEM
from oja.core.jobs.outbox import Publisher
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
    idle_done_p50_ms: float
    enqueue_per_s: float
    producer_cpu_ms: float = float("nan")
    """The producer's CPU (all its threads) per job, for the back-to-back batch."""
    worker_cpu_ms: float = float("nan")
    """The worker's CPU (its process group: the main process and the pool) per job, same batch."""
    note: str = ""


def failed_result(broker: str, jobs: int, note: str) -> Result:
    nan = float("nan")
    return Result(broker, jobs, nan, nan, nan, nan, nan, nan, note=note)


def group_cpu_seconds(group: int) -> float:
    """utime + stime of every live process in process group ``group`` (/proc/<pid>/stat): CPU per
    job compares code on a shared machine where wall-clock rates swing with the neighbours' load."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process has gone
        if int(fields[2]) == group:  # pgrp; utime and stime follow at 11 and 12
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class WorkerDied(RuntimeError):
    pass


def worker_failed(name: str, jobs: int, exc: Exception, log_path: Path) -> Result:
    """The row of a worker that died or timed out, with its log's tail on stderr."""
    print(f"\n{name}: {exc}; worker log tail:", file=sys.stderr)
    print(log_path.read_text(errors="replace")[-4000:], file=sys.stderr)
    return failed_result(name, jobs, str(exc))


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


async def latencies_ms(runtime: Runtime, ids: list[uuid.UUID]) -> tuple[list[float], list[float]]:
    """enqueue → start and enqueue → finished, per job."""
    async with own_transaction(runtime.database) as session:
        rows = (
            await session.execute(
                select(Job.created_at, Job.started_at, Job.finished_at).where(
                    Job.id.in_(ids), Job.finished_at.is_not(None)
                )
            )
        ).all()
    start = [(row.started_at - row.created_at).total_seconds() * 1000 for row in rows]
    done = [(row.finished_at - row.created_at).total_seconds() * 1000 for row in rows]
    return start, done


def awaited(publisher: CeleryPublisher) -> Publisher:
    """``publisher`` without its hand-off: each caller waits for its publish after the commit, as
    before the outbox handed its messages to one sending thread (the "awaited" row)."""

    async def publish(task_name: str, job_id: uuid.UUID, countdown: float) -> None:
        await publisher(task_name, job_id, countdown)

    return publish


async def measure(
    settings: Settings,
    worker: subprocess.Popen[bytes],
    *,
    jobs: int,
    idle_jobs: int,
    warmup: int,
    timeout: float,
    awaited_publish: bool = False,
) -> tuple[float, float, float, float, float, float, int, float, float]:
    # The producer's side, wired as the API's composition root wires it: Celery as the publisher.
    celery = create_celery(settings)
    registry = Registry()
    registry.add(noop)
    sender = CeleryPublisher(celery)
    publisher: Publisher = sender
    if awaited_publish:
        publisher = awaited(CeleryPublisher(celery))
    runtime = Runtime.create(settings, registry=registry, publisher=publisher)
    try:
        # Warm-up doubles as the readiness check: the worker is up once it has run these.
        await wait_done(runtime, await enqueue(runtime, warmup), worker, timeout)
        idle_ids = []
        for _ in range(idle_jobs):
            idle_ids += await enqueue(runtime, 1)
            await wait_done(runtime, idle_ids[-1:], worker, timeout, poll=0.005)
        idle, idle_done = await latencies_ms(runtime, idle_ids)
        worker_cpu = group_cpu_seconds(worker.pid)
        producer_cpu = time.process_time()
        began = time.perf_counter()
        ids = await enqueue(runtime, jobs)
        enqueue_per_s = jobs / (time.perf_counter() - began)
        await asyncio.to_thread(sender.thread.flush, timeout)  # its sends count as the producer's
        producer_cpu = time.process_time() - producer_cpu
        await wait_done(runtime, ids, worker, timeout)
        worker_cpu = group_cpu_seconds(worker.pid) - worker_cpu
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
        percentile(idle_done, 50),
        enqueue_per_s,
        failed,
        producer_cpu * 1000 / jobs,
        worker_cpu * 1000 / jobs,
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
    database_url: str | None = None,
    worker_src: Path | None = None,
    awaited_publish: bool = False,
) -> Result:
    var_dir = work / name.split(maxsplit=1)[0].lower().strip(",")
    if kombu_filesystem or worker_src:
        var_dir = var_dir.with_name(f"{var_dir.name}-{'kombu' if kombu_filesystem else 'before'}")
    if awaited_publish:
        var_dir = var_dir.with_name(f"{var_dir.name}-awaited")
    overrides = {"var_dir": var_dir, "log_level": "WARNING"}
    imports = ["bench.jobs_fixture", *(["bench.jobs_kombu"] if kombu_filesystem else [])]
    env = bench_env(
        OJA_VAR_DIR=str(var_dir),
        OJA_LOG_LEVEL="WARNING",
        OJA_WORKER_IMPORTS=json.dumps(imports),
    )
    if worker_src is not None:  # the worker imports `oja` from there (the producer stays this one)
        env["PYTHONPATH"] = os.pathsep.join([str(worker_src.resolve()), env["PYTHONPATH"]])
    celery_app.FILESYSTEM_TRANSPORT = KOMBU_FILESYSTEM if kombu_filesystem else OJA_FILESYSTEM
    if broker_url:
        overrides["broker_url"] = broker_url
        env["OJA_BROKER_URL"] = broker_url
    if database_url:
        overrides["database_url"] = database_url
        env["OJA_DATABASE_URL"] = database_url
        asyncio.run(empty_job_table(database_url))
    settings = Settings(**overrides)
    settings.validate()  # makes the development secret the worker will share
    upgrade(settings.database_url)

    log_path = work / f"{var_dir.name}-worker.log"
    argv = [sys.executable, "-m", "oja.cli", "worker", "--concurrency", str(CONCURRENCY)]
    worker = start_process(argv, env=env, log_path=log_path)
    try:
        measured = asyncio.run(
            measure(
                settings,
                worker,
                jobs=jobs,
                idle_jobs=idle_jobs,
                warmup=warmup,
                timeout=timeout,
                awaited_publish=awaited_publish,
            )
        )
    except (WorkerDied, TimeoutError) as exc:
        return worker_failed(name, jobs, exc, log_path)
    finally:
        stop_process(worker)
    jobs_per_s, p50, p99, idle_p50, idle_done_p50, enqueue_per_s, failed, *cpu = measured
    note = f"{failed} failed" if failed else ""
    return Result(
        name, jobs, jobs_per_s, p50, p99, idle_p50, idle_done_p50, enqueue_per_s, *cpu, note=note
    )


async def empty_job_table(database_url: str) -> None:
    """Each row starts from an empty job table (rounds share the scratch PostgreSQL database)."""
    from sqlalchemy import delete

    from oja.core.db import Database

    database = Database(database_url)
    try:
        async with own_transaction(database) as session:
            await session.execute(delete(Job))
    finally:
        await database.dispose()


# --- the raw Celery baseline ------------------------------------------------------------------------


def run_raw_celery(
    name: str,
    broker_url: str,
    work: Path,
    *,
    safe: bool,
    jobs: int,
    idle_jobs: int,
    warmup: int,
    timeout: float,
) -> Result:
    """``jobs_celery_fixture``'s no-op task on ``broker_url``: the same producer pattern (one
    ``send_task`` after another), completion read from the Redis list each task appends to."""
    import redis
    from celery import Celery

    done_key = f"bench:celery:done:{uuid.uuid4().hex[:8]}"
    env = bench_env(
        BENCH_BROKER_URL=broker_url, BENCH_DONE_KEY=done_key, BENCH_SAFE="1" if safe else "0"
    )
    argv = [sys.executable, "-m", "celery", "-A", "bench.jobs_celery_fixture", "worker"]
    argv += [f"--concurrency={CONCURRENCY}", "--queues=bench-raw", "--loglevel=WARNING"]
    argv += ["--without-gossip", "--without-mingle", "--pool=prefork"]
    log_path = work / f"raw-{'safe' if safe else 'defaults'}-worker.log"
    worker = start_process(argv, env=env, log_path=log_path)
    client = redis.Redis.from_url(broker_url)
    producer = Celery("bench_raw_producer", broker=broker_url, set_as_current=False)

    def send() -> None:
        producer.send_task(
            "bench.raw_noop", args=[time.time()], queue="bench-raw", ignore_result=True
        )

    def wait_for(count: int, poll: float) -> list[list[float]]:
        deadline = time.monotonic() + timeout
        while client.llen(done_key) < count:
            if worker.poll() is not None:
                raise WorkerDied(f"the worker exited with {worker.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{client.llen(done_key)} of {count} tasks after {timeout:g} s")
            time.sleep(poll)
        return [json.loads(item) for item in client.lrange(done_key, 0, -1)]

    try:
        for _ in range(warmup):
            send()
        wait_for(warmup, 0.1)
        client.delete(done_key)
        idle: list[list[float]] = []
        for index in range(idle_jobs):
            send()
            idle = wait_for(index + 1, 0.001)
        client.delete(done_key)
        worker_cpu = group_cpu_seconds(worker.pid)
        producer_cpu = time.process_time()
        began = time.perf_counter()
        for _ in range(jobs):
            send()
        enqueue_per_s = jobs / (time.perf_counter() - began)
        producer_cpu = time.process_time() - producer_cpu
        done = wait_for(jobs, 0.1)
        worker_cpu = group_cpu_seconds(worker.pid) - worker_cpu
    except (WorkerDied, TimeoutError) as exc:
        return worker_failed(name, jobs, exc, log_path)
    finally:
        stop_process(worker)
        client.delete(done_key)
        client.close()
        producer.close()
    latencies = [(started - sent) * 1000 for sent, started, _ in done]
    span = max(finished for _, _, finished in done) - min(sent for sent, _, _ in done)
    return Result(
        name,
        jobs,
        len(done) / span,
        percentile(latencies, 50),
        percentile(latencies, 99),
        percentile([(started - sent) * 1000 for sent, started, _ in idle], 50),
        percentile([(finished - sent) * 1000 for sent, _, finished in idle], 50),
        enqueue_per_s,
        producer_cpu * 1000 / jobs,
        worker_cpu * 1000 / jobs,
    )


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
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds (medians)")
    parser.add_argument(
        "--brokers",
        default="kombu,filesystem,redis,raw",
        help="rows to run: kombu (filesystem, kombu's), filesystem, redis, awaited (Oja on Redis, "
        "each caller waiting for its publish: the producer before the hand-off), raw (raw Celery)",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument(
        "--postgres",
        default=None,
        help="a PostgreSQL server: the job table goes to a scratch database there (else SQLite)",
    )
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait per batch")
    parser.add_argument(
        "--db-prefix",
        default="oja_bench",
        help="name prefix of the scratch PostgreSQL database (dropped at the end)",
    )
    parser.add_argument(
        "--compare-src",
        type=Path,
        default=None,
        help="an older src/ (git archive <rev> src | tar -x -C DIR): one more Redis row whose "
        "worker runs that code, in the same rounds (the producer is this checkout's)",
    )
    args = parser.parse_args()
    wanted = {name.strip() for name in args.brokers.split(",")}

    print(machine_line())
    table = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"oja worker --concurrency {CONCURRENCY}, {table} job table; per row {args.warmup} "
        f"warm-up jobs, {args.idle_jobs} jobs one at a time (idle), then {args.jobs} jobs "
        f"enqueued back to back by one producer (jobs/s, p50, p99); {args.rounds} interleaved "
        f"round(s); load average {load_average()}\n"
    )
    redis_name = args.redis_url.removeprefix("redis://")
    # name → (kind, URL, kombu's own filesystem transport instead of Oja's, the worker's src)
    rows: dict[str, tuple[str, str | None, bool, Path | None]] = {}
    if "awaited" in wanted:
        rows[f"Oja on Redis, publish awaited ({redis_name})"] = (
            "oja-awaited",
            args.redis_url,
            False,
            None,
        )
    if "kombu" in wanted:
        rows["filesystem, kombu's (before)"] = ("oja", None, True, None)
    if "filesystem" in wanted:
        rows["filesystem (embedded)"] = ("oja", None, False, None)
    if "redis" in wanted and args.compare_src:
        rows[f"Oja on Redis, worker from {args.compare_src}"] = (
            "oja",
            args.redis_url,
            False,
            args.compare_src,
        )
    if "redis" in wanted:
        rows[f"Oja on Redis ({redis_name})"] = ("oja", args.redis_url, False, None)
    if "raw" in wanted:
        rows["raw Celery on Redis, defaults"] = ("raw", args.redis_url, False, None)
        rows["raw Celery on Redis, acks_late + prefetch 1"] = (
            "raw-safe",
            args.redis_url,
            False,
            None,
        )
    results: dict[str, list[Result]] = {name: [] for name in rows}
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="oja-bench-jobs-"))
        database_url = None
        if args.postgres:
            dsn = stack.enter_context(scratch_database(args.postgres, args.db_prefix))
            database_url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
        for index in range(args.rounds):
            order = list(rows.items()) if index % 2 == 0 else list(rows.items())[::-1]
            for name, (kind, url, kombu_filesystem, worker_src) in order:
                if url and not redis_reachable(url):
                    results[name].append(failed_result(name, 0, "skipped: Redis unreachable"))
                    continue
                work = Path(tmp) / f"round-{index}"
                work.mkdir(exist_ok=True)
                counts = {
                    "jobs": args.jobs,
                    "idle_jobs": args.idle_jobs,
                    "warmup": args.warmup,
                    "timeout": args.timeout,
                }
                if kind in ("oja", "oja-awaited"):
                    result = run_broker(
                        name,
                        url,
                        work,
                        kombu_filesystem=kombu_filesystem,
                        database_url=database_url,
                        worker_src=worker_src,
                        awaited_publish=kind == "oja-awaited",
                        **counts,
                    )
                else:
                    assert url is not None
                    result = run_raw_celery(name, url, work, safe=kind == "raw-safe", **counts)
                results[name].append(result)
                print(
                    f"round {index + 1}: {name}: {result.jobs_per_s:,.0f} jobs/s, idle p50 "
                    f"{result.idle_p50_ms:.2f} ms, CPU ms/job producer "
                    f"{result.producer_cpu_ms:.3f} worker {result.worker_cpu_ms:.3f} "
                    f"(load average {load_average()})"
                )

    def median(values: list[float]) -> float:
        kept = [v for v in values if not math.isnan(v)]
        return statistics.median(kept) if kept else float("nan")

    headers = [
        "row",
        "jobs",
        "jobs/s",
        "p50 ms",
        "p99 ms",
        "idle p50 ms",
        "idle done p50 ms",
        "enqueue/s",
        "producer CPU ms/job",
        "worker CPU ms/job",
        "note",
    ]
    table_rows = []
    for name, runs in results.items():
        table_rows.append(
            [
                name,
                runs[0].jobs,
                median([r.jobs_per_s for r in runs]),
                median([r.p50_ms for r in runs]),
                median([r.p99_ms for r in runs]),
                median([r.idle_p50_ms for r in runs]),
                median([r.idle_done_p50_ms for r in runs]),
                median([r.enqueue_per_s for r in runs]),
                median([r.producer_cpu_ms for r in runs]),
                median([r.worker_cpu_ms for r in runs]),
                "; ".join(sorted({r.note for r in runs if r.note})),
            ]
        )
    print()
    print(markdown_table(headers, table_rows))
    ojas = [name for name, row in rows.items() if row[0].startswith("oja") and row[1]]
    for oja_name in ojas if "raw Celery on Redis, defaults" in results else []:
        for raw_name in (
            "raw Celery on Redis, defaults",
            "raw Celery on Redis, acks_late + prefetch 1",
        ):
            pairs = zip(results[oja_name], results[raw_name], strict=True)
            ratios = [o.jobs_per_s / r.jobs_per_s for o, r in pairs]
            print(
                f"{oja_name} ÷ {raw_name}: jobs/s "
                + ", ".join(f"{ratio:.2f}" for ratio in ratios)
                + " (per round)"
            )
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
