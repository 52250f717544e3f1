"""In-process rate limiting: CPU per hit of Oja's moving windows beside ``limits``' own.

The baseline is what Oja used until issue 17's last round: ``limits``' async moving-window
strategy on its ``MemoryStorage`` (a hit, then the window's stats, as ``RateLimiter.hit`` did).
That storage starts an expiry sweep after every hit whose previous sweep has finished, and the
sweep hops to a worker thread once per key, so the cost grows with the number of keys counted.
Both run in this process on the same event loop, in interleaved rounds; between hits the loop
sleeps 0.5 ms, as a server's loop has other requests' turns, so background work gets to run.
CPU is the process's (all threads) per hit, minus the same loop's CPU with no hit at all.

    python bench/ratelimit.py [--hits 2000] [--keys 10,1000] [--rounds 3]
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":  # bench/http.py would shadow the standard library's `http`
    _bench_dir = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _bench_dir]
    sys.path.insert(0, str(_bench_dir.parent))

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from bench.common import machine_line, markdown_table
from oja.core.ratelimit import Rate, RateLimiter

PAUSE_S = 0.0005
RATE = Rate(30, 60)

Hit = Callable[[str], Awaitable[object]]


def limits_memory() -> Hit:
    strategy = MovingWindowRateLimiter(MemoryStorage())
    item = RATE._item()

    async def hit(key: str) -> object:
        allowed = await strategy.hit(item, "bench", key)
        await strategy.get_window_stats(item, "bench", key)
        return allowed

    return hit


def oja_memory() -> Hit:
    limiter = RateLimiter.in_memory()

    async def hit(key: str) -> object:
        return await limiter.hit("bench", key, RATE)

    return hit


async def no_hit(key: str) -> object:
    return None


async def cpu_ms_per_hit(hit: Hit, keys: int, hits: int) -> float:
    for i in range(keys):  # every key counted once: the windows a busy process holds
        await hit(f"k{i}")
    await asyncio.sleep(0.2)
    started = time.process_time()
    for i in range(hits):
        await hit(f"k{i % keys}")
        await asyncio.sleep(PAUSE_S)
    return 1000 * (time.process_time() - started) / hits


async def measure(hits: int, key_counts: list[int], rounds: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for keys in key_counts:
        found: dict[str, list[float]] = {"loop": [], "limits": [], "oja": []}
        for round_ in range(rounds):
            order = [("loop", lambda: no_hit), ("limits", limits_memory), ("oja", oja_memory)]
            order = order[round_ % 3 :] + order[: round_ % 3]
            for name, make in order:
                found[name].append(await cpu_ms_per_hit(make(), keys, hits))
        loop = statistics.median(found["loop"])
        base = statistics.median(found["limits"]) - loop
        oja = statistics.median(found["oja"]) - loop
        rows.append(
            [
                keys,
                f"{base:.3f}",
                f"{oja:.3f}",
                f"{base / oja:.0f}×" if oja > 0 else "—",
                f"{loop:.3f}",
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hits", type=int, default=2000)
    parser.add_argument("--keys", default="10,1000")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows = asyncio.run(measure(args.hits, [int(k) for k in args.keys.split(",")], args.rounds))
    print(machine_line())
    print(f"{args.hits} hits a round, {args.rounds} interleaved rounds, medians; rate {RATE}")
    print()
    headers = [
        "keys counted",
        "limits MemoryStorage CPU ms/hit",
        "Oja CPU ms/hit",
        "limits ÷ Oja",
        "the loop alone, ms/iteration",
    ]
    print(markdown_table(headers, rows))


if __name__ == "__main__":
    main()
