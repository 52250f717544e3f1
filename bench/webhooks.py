"""Webhook acknowledgement latency: Oja's Paystack inbox next to a bare endpoint, same run.

Each server is one uvicorn process on 127.0.0.1. Rounds of 100 concurrent, correctly signed deliveries
are sent; the acknowledgement time (request sent → 200 received) is measured. Oja verifies the HMAC,
inserts the inbox row (ON CONFLICT DO NOTHING), writes the job row, commits and publishes to the broker
before answering; the bare endpoint only answers ``{"status": true}``. "replays" sends the same event
every time (the duplicate path: no job). Run: ``python -m bench.webhooks [--database-url URL]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from fastapi import FastAPI

from bench.common import bench_env, machine_line, markdown_table, percentile, uvicorn_server

SECRET = "sk_test_bench_paystack"
PATH = "/payments/paystack/webhook"


def create_bare_app() -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(PATH)
    async def webhook() -> dict[str, bool]:
        return {"status": True}

    return app


def signed(body: bytes) -> dict[str, str]:
    import hashlib
    import hmac

    signature = hmac.new(SECRET.encode(), body, hashlib.sha512).hexdigest()
    return {"content-type": "application/json", "x-paystack-signature": signature}


def event(unique: bool) -> bytes:
    reference = f"bench-{uuid.uuid4().hex}" if unique else "bench-replayed"
    return json.dumps(
        {"event": "charge.success", "data": {"id": 1, "reference": reference, "amount": 5000}}
    ).encode()


async def measure(url: str, concurrency: int, rounds: int, unique: bool) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def one() -> None:
            nonlocal errors
            body = event(unique)
            started = time.perf_counter()
            response = await client.post(PATH, content=body, headers=signed(body))
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                errors += 1

        await asyncio.gather(*(one() for _ in range(concurrency)))  # warm-up round
        latencies.clear()
        for _ in range(rounds):
            await asyncio.gather(*(one() for _ in range(concurrency)))
    return latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument(
        "--database-url", help="PostgreSQL URL for Oja (default: SQLite under a temp dir)"
    )
    args = parser.parse_args()
    print(machine_line())
    print(
        f"{args.rounds} rounds of {args.concurrency} concurrent signed deliveries per row "
        "(after one warm-up round), one uvicorn process each, 127.0.0.1"
    )
    print()
    rows = []
    with tempfile.TemporaryDirectory(prefix="oja-bench-webhooks-") as tmp:
        work = Path(tmp)
        database_url = args.database_url or f"sqlite+aiosqlite:///{work / 'oja.db'}"
        if database_url.startswith("postgresql://"):
            database_url = "postgresql+asyncpg://" + database_url.removeprefix("postgresql://")
        from oja.core.migrate import upgrade

        upgrade(database_url)
        backend = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
        oja_env = bench_env(
            OJA_VAR_DIR=str(work / "var"),
            OJA_DATABASE_URL=database_url,
            OJA_LOG_LEVEL="WARNING",
            OJA_PAYSTACK_SECRET_KEY=SECRET,
        )
        cases = [
            ("bare endpoint", "bench.webhooks:create_bare_app", bench_env(), True),
            (f"Oja inbox, new events ({backend})", "oja.main:create_app", oja_env, True),
            (f"Oja inbox, replays ({backend})", "oja.main:create_app", oja_env, False),
        ]
        for index, (name, app, env, unique) in enumerate(cases):
            with uvicorn_server(app, env=env, log_path=work / f"server-{index}.log") as url:
                latencies, errors = asyncio.run(measure(url, args.concurrency, args.rounds, unique))
            rows.append(
                [
                    name,
                    len(latencies),
                    percentile(latencies, 50),
                    percentile(latencies, 99),
                    max(latencies),
                    errors,
                ]
            )
    print(markdown_table(["server", "deliveries", "p50 ms", "p99 ms", "max ms", "errors"], rows))


if __name__ == "__main__":
    main()
