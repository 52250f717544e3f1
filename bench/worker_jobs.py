"""The workers' CPU per job of the shopping day's three busiest kinds, in-process.

``notifications.deliver_events`` (an ``order.confirmed`` fan-out to one buyer with an email and a
mobile: one in-app notification, two deliveries), ``notifications.send_deliveries`` (the email
through the SMTP fake and the SMS through the Termii fake, each claimed and marked in its own
transactions) and ``billing.process_webhook_event`` (a Paystack ``charge.success`` of a stored
payment: verified at the Paystack fake, the payment moved to ``success``). Each kind runs ``--jobs``
times through :func:`oja.core.jobs.runner.execute`, one job after another on one event loop as one
worker process does, logging JSON at INFO (to a file) as a worker does; the figure is process CPU
(``time.process_time``) per job, which a shared machine's load changes far less than latency.

The fakes (``oja.sandbox``) run in threads of the same process: their CPU is in the figures of
both trees alike. With ``--compare-src DIR`` (an older ``src/``: ``git worktree add --detach
/tmp/base <rev>``) each round runs that one then this one, in fresh processes, interleaved.

    python -m bench.worker_jobs [--jobs 200] [--rounds 3] [--compare-src /tmp/base/src]
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
import time
import uuid
from typing import Any

from bench.common import machine_line, markdown_table, run_child_json
from bench.http import load_average, scratch_database

KINDS = (
    "notifications.deliver_events",
    "notifications.send_deliveries",
    "billing.process_webhook_event",
)


def measure(
    database_url: str, jobs: int, warmup: int, log_path: str, profile: str | None = None
) -> dict[str, float]:
    """Runs in a child process: whichever ``oja`` its ``PYTHONPATH`` gives it."""
    import logging

    from sqlalchemy import insert

    from oja.core import events
    from oja.core.config import Settings
    from oja.core.db import unit_of_work
    from oja.core.ids import uuid7
    from oja.core.jobs.runner import execute
    from oja.core.logging import configure_logging
    from oja.core.runtime import Runtime, running
    from oja.identity.models import User
    from oja.job_modules import job_registry
    from oja.sandbox.runner import Sandbox

    sandbox = Sandbox(port_base=None).start()
    os.environ.update(sandbox.environment(dict(os.environ)))
    settings = Settings(database_url=database_url, env="test", log_level="INFO")
    settings.validate()
    configure_logging("INFO", json=True)
    stream = open(log_path, "a")  # noqa: SIM115 - closed at the end
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)
    published: list[tuple[str, uuid.UUID]] = []

    async def publish(task: str, job_id: uuid.UUID, countdown: float) -> None:
        published.append((task, job_id))

    runtime = Runtime.create(settings, registry=job_registry(), publisher=publish)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    total = jobs + warmup

    async def seed() -> tuple[list[uuid.UUID], list[str]]:
        from oja.billing.config import BillingSettings
        from oja.billing.schemas import InitiatePaymentRequest
        from oja.billing.service import initiate_payment

        users = [uuid7() for _ in range(total)]
        async with unit_of_work(runtime.database) as session:
            await session.execute(
                insert(User),
                [
                    {
                        "id": u,
                        "email": f"b{u.hex}@example.com",
                        "mobile": f"+23480{index:08d}",
                        "name": "Buyer",
                    }
                    for index, u in enumerate(users)
                ],
            )
        references = []
        billing = settings.section(BillingSettings)
        with running(runtime):
            for user_id in users:
                async with unit_of_work(runtime.database) as session:
                    user = await session.get(User, user_id)
                    assert user is not None
                    payment = await initiate_payment(
                        session, user, InitiatePaymentRequest(amount=500000), None, billing
                    )
                    references.append(payment.reference)
        return users, references

    users, references = loop.run_until_complete(seed())

    async def queued(kind: str) -> list[str]:
        from sqlalchemy import text

        async with runtime.database.engine.connect() as conn:
            found = await conn.execute(
                text("SELECT id FROM job WHERE kind = :kind AND status = 'queued' ORDER BY id"),
                {"kind": kind},
            )
            return [str(row[0]) for row in found]

    async def emit_all() -> None:
        with running(runtime):
            for index, user in enumerate(users):
                async with unit_of_work(runtime.database):
                    await events.emit(
                        "order.confirmed",
                        recipient_ids=[user],
                        order_id=str(uuid7()),
                        group_id=str(uuid7()),
                        vendor_id=str(uuid7()),
                        buyer_id=str(user),
                        from_status="pending",
                        status="confirmed",
                        note=None,
                        order_number=f"OJA-{index:05d}",
                        total_amount=1250050,
                        currency="NGN",
                        store_name="Adire House",
                    )

    async def webhooks_all() -> None:
        from oja.billing.config import BillingSettings
        from oja.billing.inbox import receive_paystack
        from oja.sandbox.paystack_records import sign

        billing = settings.section(BillingSettings)
        for reference in references:
            charge = sandbox.paystack.settle(reference, "success")
            body = sandbox.paystack.webhook_body("charge.success", charge)
            with running(runtime):
                async with unit_of_work(runtime.database) as session:
                    await receive_paystack(
                        session, body, sign(sandbox.paystack.secret_key, body), billing
                    )

    def run(kind: str, ids: list[str], profiled: bool = False) -> float:
        import cProfile

        profiler = cProfile.Profile(time.process_time) if profiled else None
        started = time.process_time()
        if profiler is not None:
            profiler.enable()
        for job_id in ids:
            outcome = loop.run_until_complete(execute(job_id, runtime, kind))
            assert outcome == "succeeded", (kind, outcome)
        spent = time.process_time() - started
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(f"{profile}.{kind}.pstats")
        return spent

    result: dict[str, float] = {}
    loop.run_until_complete(emit_all())
    loop.run_until_complete(webhooks_all())
    for kind in KINDS:
        ids = loop.run_until_complete(queued(kind))
        assert len(ids) == total, (kind, len(ids))
        run(kind, ids[:warmup])
        result[f"{kind} CPU ms"] = run(kind, ids[warmup:], profile is not None) * 1000 / jobs
    checks = loop.run_until_complete(_checks(runtime))
    assert checks == {"sent": 2 * total, "processed": total, "success": total}, checks
    loop.run_until_complete(runtime.close())
    loop.close()
    sandbox.stop()
    stream.close()
    return result


async def _checks(runtime: Any) -> dict[str, int]:
    from sqlalchemy import text

    async with runtime.database.engine.connect() as conn:

        async def one(sql: str) -> int:
            return int((await conn.execute(text(sql))).scalar_one())

        return {
            "sent": await one("SELECT count(*) FROM notification_delivery WHERE status = 'sent'"),
            "processed": await one("SELECT count(*) FROM webhook_event WHERE status = 'processed'"),
            "success": await one("SELECT count(*) FROM payment WHERE status = 'success'"),
        }


def run_child(
    src: Path | None, database_url: str, jobs: int, warmup: int, profile: str | None = None
) -> dict[str, float]:
    args = [database_url, "--jobs", str(jobs), "--warmup", str(warmup)]
    if profile is not None:
        args += ["--profile", profile]
    return run_child_json("bench.worker_jobs", args, src)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compare-src", type=Path, default=None)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--db-prefix", default="oja_bench", help="the scratch databases' name prefix"
    )
    parser.add_argument(
        "--profile",
        default=None,
        metavar="PREFIX",
        help="cProfile each kind's measured jobs into PREFIX.<kind>.pstats (slower; not figures)",
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--log", default=os.devnull, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.jobs, args.warmup, args.log, args.profile)))
        return

    print(machine_line())
    print(f"{args.jobs} jobs of each kind per row and round, PostgreSQL; load {load_average()}\n")
    rows: dict[str, Path | None] = {}
    if args.compare_src is not None:
        rows[f"oja from {args.compare_src}"] = args.compare_src
    rows["oja (this checkout)"] = None
    results: dict[str, list[dict[str, float]]] = {name: [] for name in rows}
    for index in range(args.rounds):
        for name, src in rows.items():
            with scratch_database(args.postgres, args.db_prefix) as dsn:
                database_url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
                result = run_child(src, database_url, args.jobs, args.warmup, args.profile)
            results[name].append(result)
            figures = ", ".join(f"{key} {value:.2f}" for key, value in result.items())
            print(f"round {index + 1}: {name}: {figures} (load average {load_average()})")
    keys = [f"{kind} CPU ms" for kind in KINDS]
    table = [
        [name, *(statistics.median(r[key] for r in runs) for key in keys)]
        for name, runs in results.items()
    ]
    print()
    print(markdown_table(["row (medians, CPU ms per job)", *keys], table))
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
