"""The worker's CPU and SQL per payment confirmation: ``billing.process_webhook_event`` for a
Paystack ``charge.success`` of a two-store checkout (one line per store), in-process.

The job verifies the charge at the Paystack fake, moves the payment, and in the same unit of
work confirms the order group (store orders confirmed, search sales, purchases, the
notifications' fan-out enqueued) and books the ledger (payment and fee transactions, settlements).
Seeding, not measured: two approved stores with one product each and a buyer (through the API,
in-process), ``--jobs`` + ``--warmup`` checkouts, their charges settled at the fake and their
webhooks received. Then the jobs run through :func:`oja.core.jobs.runner.execute` one after
another on one event loop, as one worker does, logging JSON at INFO to a file; the figures are
process CPU (``time.process_time``) per job and SQL statements per job (counted on the engine,
an executemany once). The stores' ledger accounts exist after the warm-up: the steady state.

With ``--compare-src DIR`` (an older ``src/``, e.g. ``git archive <rev> src | tar -x -C DIR/..``)
each round runs that one then this one, each in a fresh process and a fresh database, so the drift
of a shared machine falls on both alike.

    python -m bench.confirmation [--jobs 100] [--rounds 3] [--compare-src /tmp/base/src] \
        [--postgres postgresql://postgres@127.0.0.1:5432/postgres] [--db-prefix oja_bench]
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
import tempfile
import time
import uuid
from typing import Any

from bench.common import machine_line, markdown_table, run_child_json
from bench.http import PASSWORD, load_average, scratch_database

KIND = "billing.process_webhook_event"


def measure(database_url: str, jobs: int, warmup: int, log_path: str) -> dict[str, float]:
    """Runs in a child process: whichever ``oja`` its ``PYTHONPATH`` gives it."""
    import logging

    import httpx
    from sqlalchemy import event, text

    from oja.core.config import Settings
    from oja.core.db import unit_of_work
    from oja.core.jobs.runner import execute
    from oja.core.logging import configure_logging
    from oja.core.runtime import running
    from oja.main import create_app
    from oja.sandbox.runner import Sandbox

    sandbox = Sandbox(port_base=None).start()
    os.environ.update(sandbox.environment(dict(os.environ)))
    var_dir = tempfile.mkdtemp(prefix="oja-confirmation-")
    settings = Settings(database_url=database_url, env="test", log_level="INFO", var_dir=var_dir)
    settings.validate()
    configure_logging("INFO", json=True)
    stream = open(log_path, "a")  # noqa: SIM115 - closed at the end
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)

    async def publish(task: str, job_id: uuid.UUID, countdown: float) -> None:
        return None  # the jobs are read back from the table

    app = create_app(settings, publisher=publish)
    runtime = app.state.runtime
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    total = jobs + warmup

    async def sql(statement: str, **params: Any) -> list[Any]:
        async with runtime.database.engine.begin() as conn:
            result = await conn.execute(text(statement), params)
            return list(result.all()) if result.returns_rows else []

    async def signup(client: httpx.AsyncClient, prefix: str) -> dict[str, str]:
        email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
        created = await client.post("/auth/signup", json={"email": email, "password": PASSWORD})
        assert created.status_code == 201, created.text
        login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        return {"Authorization": f"Bearer {login.json()['access_token']}"}

    async def seed() -> list[str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            variants = []
            for n in range(2):
                owner = await signup(client, f"vendor{n}")
                store = await client.post("/vendors", json={"name": f"Bench {n}"}, headers=owner)
                assert store.status_code == 201, store.text
                await sql(
                    "UPDATE vendor SET status = 'approved' WHERE id = :id", id=store.json()["id"]
                )
                product = await client.post(
                    "/products",
                    json={
                        "title": f"Bench {n}",
                        "status": "active",
                        "variants": [{"sku": f"B{n}", "price": 1000 + n, "stock": 1_000_000}],
                    },
                    headers=owner,
                )
                assert product.status_code == 201, product.text
                variants.append(product.json()["variants"][0]["id"])
            buyer = await signup(client, "buyer")
            references = []
            for index in range(total):
                for quantity, variant in zip((2, 1), variants, strict=True):
                    body = {"variant_id": variant, "quantity": quantity}
                    added = await client.post("/cart/items", json=body, headers=buyer)
                    assert added.status_code in (200, 201), added.text
                paid = await client.post(
                    "/checkout",
                    json={"shipping_address": ADDRESS},
                    headers={**buyer, "Idempotency-Key": f"bench-{index}"},
                )
                assert paid.status_code in (200, 201), paid.text
                references.append(paid.json()["payment"]["reference"])
        return references

    async def webhooks(references: list[str]) -> None:
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

    loop.run_until_complete(webhooks(loop.run_until_complete(seed())))
    queued = loop.run_until_complete(
        sql("SELECT id FROM job WHERE kind = :kind AND status = 'queued' ORDER BY id", kind=KIND)
    )
    ids = [str(row[0]) for row in queued]
    assert len(ids) == total, len(ids)
    sent = [0]

    def count(*_: Any) -> None:
        sent[0] += 1

    def run(batch: list[str]) -> float:
        started = time.process_time()
        for job_id in batch:
            outcome = loop.run_until_complete(execute(job_id, runtime, KIND))
            assert outcome == "succeeded", outcome
        return time.process_time() - started

    run(ids[:warmup])
    event.listen(runtime.database.engine.sync_engine, "before_cursor_execute", count)
    spent = run(ids[warmup:])
    event.remove(runtime.database.engine.sync_engine, "before_cursor_execute", count)
    checks = loop.run_until_complete(
        sql(
            "SELECT (SELECT count(*) FROM order_group WHERE status = 'paid'),"
            " (SELECT count(*) FROM ledger_transaction),"
            " (SELECT count(*) FROM ledger_account),"
            " (SELECT coalesce(sum(balance), 0) FROM ledger_account)"
        )
    )
    assert tuple(checks[0]) == (total, 2 * total, 5, 0), checks
    loop.run_until_complete(runtime.close())
    loop.close()
    sandbox.stop()
    stream.close()
    return {"CPU ms / job": spent * 1000 / jobs, "statements / job": sent[0] / jobs}


ADDRESS = {
    "name": "Bench Buyer",
    "phone": "+2348000000000",
    "line1": "1 Bench Street",
    "city": "Lagos",
    "state": "Lagos",
    "country": "NG",
}


def run_child(
    src: Path | None, server: str, prefix: str, jobs: int, warmup: int
) -> dict[str, float]:
    with scratch_database(server, prefix) as dsn:
        url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
        return run_child_json(
            "bench.confirmation", [url, "--jobs", str(jobs), "--warmup", str(warmup)], src
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compare-src", type=Path, default=None)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--db-prefix", default="oja_bench", help="the scratch databases' name prefix"
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--log", default=os.devnull, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.jobs, args.warmup, args.log)))
        return

    print(machine_line())
    print(f"{args.jobs} confirmations per row and round, PostgreSQL; load {load_average()}\n")
    trees: dict[str, Path | None] = {}
    if args.compare_src is not None:
        trees[f"base ({args.compare_src})"] = args.compare_src
    trees["this tree"] = None
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for round_ in range(args.rounds):
        for name, src in trees.items():
            figures = run_child(src, args.postgres, args.db_prefix, args.jobs, args.warmup)
            results[name].append(figures)
            print(f"round {round_ + 1} {name}: {figures}", flush=True)
    rows = []
    for name, runs in results.items():
        cpu = [r["CPU ms / job"] for r in runs]
        rows.append(
            [
                name,
                f"{statistics.median(cpu):.2f}",
                f"{min(cpu):.2f}–{max(cpu):.2f}",
                f"{statistics.median(r['statements / job'] for r in runs):.1f}",
            ]
        )
    print()
    print(
        markdown_table(
            ["tree", "CPU ms / confirmation (median)", "range", "statements / confirmation"], rows
        )
    )
    if args.compare_src is not None:
        base, this = (results[name] for name in trees)
        ratios = [t["CPU ms / job"] / b["CPU ms / job"] for b, t in zip(base, this, strict=True)]
        print(f"\nthis / base CPU per round: {', '.join(f'{r:.3f}' for r in ratios)}")


if __name__ == "__main__":
    main()
