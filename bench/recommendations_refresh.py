"""The ``recommendations.refresh`` job's cost, in-process, on an already seeded database (issue 25).

Each run is a fresh process that calls :func:`service.refresh` (``full=True`` by default, the
first pass after a seed; ``--incremental``: after an untimed full pass whose cursor is an hour
before the seed's last behaviour, the pass over that hour's callers) in one transaction, reads back
every ``product_neighbour`` and ``subject_recommendation`` row it wrote, and rolls back: the
database is left as it was, so every round refreshes the same rows. It prints wall time and
process CPU time (``time.process_time``, this process only: PostgreSQL's own work is not in it)
and a digest of the rows written (scores by ``repr``), so two trees are compared on output too.

With ``--compare-src DIR`` (a base ``src/``: ``git -C /work/main archive HEAD src | tar -x -C
/tmp/base``) each round runs that tree, then this one, interleaved; the digests must agree.

    oja seed --products 10000 --vendors 50 --buyers 2000 --seed 42   # into a scratch database
    python -m bench.recommendations_refresh --database postgresql+asyncpg://…/oja_x
        [--rounds 3] [--compare-src /tmp/base/src] [--incremental] [--profile out.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


async def _run(database: str, full: bool, profile: str | None) -> dict[str, Any]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    from oja.core.config import Settings
    from oja.marketplace.recommendations import service

    settings = Settings(database_url=database)
    engine = create_async_engine(database)
    try:
        async with AsyncSession(engine) as db:
            # The same ``now`` in every run (a day after the last behaviour): scores decay with it.
            last = await db.scalar(text("SELECT max(created_at) FROM behaviour_event"))
            now = last + timedelta(days=1)
            if not full:
                # A full pass (untimed) whose cursor the seed's last 70 minutes of behaviour
                # (with the overlap) are after: those callers' lists are the timed pass's work.
                cursor = last + timedelta(minutes=-60)
                await service.refresh(db, settings, now=cursor, full=True)
                now = last + timedelta(minutes=5)
            profiler = None
            if profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            cpu, wall = time.process_time(), time.perf_counter()
            summary = await service.refresh(db, settings, now=now, full=full)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(profile)
            digest = hashlib.sha256()
            for statement in (
                "SELECT product_id, kind, rank, neighbour_id, score FROM product_neighbour "
                "WHERE kind <> 'similar' ORDER BY kind, product_id, rank",
                "SELECT subject, rank, product_id, score FROM subject_recommendation "
                "ORDER BY subject, rank",
            ):
                for row in (await db.execute(text(statement))).all():
                    digest.update(repr(tuple(row)).encode())
            await db.rollback()
    finally:
        await engine.dispose()
    return {"wall": wall, "cpu": cpu, "summary": summary, "digest": digest.hexdigest()[:16]}


def _child(src: Path, args: argparse.Namespace) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(src), str(ROOT)]))
    command = [sys.executable, "-m", "bench.recommendations_refresh", "--child"]
    command += ["--database", args.database] + (["--incremental"] if args.incremental else [])
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True, cwd=ROOT)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, help="a seeded database (asyncpg URL)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compare-src", type=Path, default=None)
    parser.add_argument("--incremental", action="store_true")
    parser.add_argument("--profile", default=None, help="cProfile this tree once into a file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child or args.profile:
        found = asyncio.run(_run(args.database, not args.incremental, args.profile))
        print(json.dumps(found, default=str))
        return
    variants = [("this tree", ROOT / "src")]
    if args.compare_src is not None:
        variants.insert(0, (f"base {args.compare_src}", args.compare_src.resolve()))
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in variants}
    for round_ in range(args.rounds):
        for name, src in variants:
            found = _child(src, args)
            found["load"] = "/".join(f"{n:.2f}" for n in os.getloadavg())
            results[name].append(found)
            print(
                f"round {round_ + 1} {name}: wall {found['wall']:.2f} s, CPU {found['cpu']:.2f} s, "
                f"load {found['load']}, rows {found['digest']} {found['summary']}",
                flush=True,
            )
    print("\n| tree | wall s (median) | CPU s (median) | output digest |")
    print("|---|---|---|---|")
    for name, runs in results.items():
        wall = statistics.median(r["wall"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {runs[0]['digest']} |")
    digests = {r["digest"] for runs in results.values() for r in runs}
    print("output identical" if len(digests) == 1 else f"OUTPUT DIFFERS: {sorted(digests)}")


if __name__ == "__main__":
    main()
