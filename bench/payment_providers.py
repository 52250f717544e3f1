"""The provider port's cost: a Flutterwave verify through the adapter next to a bare httpx GET of the
same URL (same fake, same run), and the major→minor conversion next to float arithmetic.

The Flutterwave fake runs in a thread on 127.0.0.1 (:class:`~oja.sandbox.server.SandboxServer`). The
adapter call adds the envelope check, Decimal JSON parsing, unit conversion and the normalised
dataclass; the bare call is ``GET`` + ``json.loads``. Run: ``python -m bench.payment_providers``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import httpx

from bench.common import machine_line, markdown_table, percentile
from oja.billing.providers.flutterwave import FlutterwaveClient
from oja.billing.providers.port import to_minor
from oja.sandbox.flutterwave import DEFAULT_SECRET_KEY, FlutterwaveFake
from oja.sandbox.server import SandboxServer


async def timed(calls: int, call: Callable[[], Awaitable[None]]) -> list[float]:
    latencies = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def run(calls: int) -> list[list[object]]:
    fake = FlutterwaveFake()
    with SandboxServer(fake.app) as server:
        headers = {"Authorization": f"Bearer {DEFAULT_SECRET_KEY}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
            await http.post(
                "/v3/payments",
                json={
                    "tx_ref": "bench-1",
                    "amount": "100.50",
                    "redirect_url": "http://127.0.0.1/back",
                    "customer": {"email": "b@example.com"},
                },
            )
            fake.settle("bench-1", "successful")
            charge_id = str(fake.by_reference("bench-1").id)

            async def bare() -> None:
                response = await http.get(f"/v3/transactions/{charge_id}/verify")
                json.loads(response.content)["data"]["amount"]

            async with FlutterwaveClient(
                base_url=server.url, secret_key=DEFAULT_SECRET_KEY, retries=0
            ) as adapter:

                async def through_port() -> None:
                    await adapter.verify_transaction(charge_id)

                await timed(20, bare)  # warm both paths
                await timed(20, through_port)
                rows = []
                for name, call in (
                    ("bare httpx GET + json.loads", bare),
                    ("Oja adapter verify", through_port),
                ):
                    latencies = await timed(calls, call)
                    rows.append(
                        [
                            name,
                            calls,
                            f"{percentile(latencies, 50):.2f}",
                            f"{percentile(latencies, 95):.2f}",
                            f"{calls / (sum(latencies) / 1000):.0f}",
                        ]
                    )
    return rows


def conversions(count: int) -> list[list[object]]:
    values = [f"{i}.{i % 100:02d}" for i in range(count)]
    started = time.perf_counter()
    floats = [round(float(v) * 100) for v in values]
    bare = time.perf_counter() - started
    started = time.perf_counter()
    exact = [to_minor(v, "NGN") for v in values]
    ours = time.perf_counter() - started
    assert floats == exact
    return [
        ["round(float(x) * 100)", count, f"{bare / count * 1e6:.2f}"],
        ["Oja to_minor (Decimal, floor)", count, f"{ours / count * 1e6:.2f}"],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--conversions", type=int, default=100_000)
    args = parser.parse_args()
    print(machine_line())
    print(
        markdown_table(
            ["verify call (sequential)", "calls", "p50 ms", "p95 ms", "calls/s"],
            asyncio.run(run(args.calls)),
        )
    )
    print(markdown_table(["major → minor", "values", "µs each"], conversions(args.conversions)))


if __name__ == "__main__":
    main()
