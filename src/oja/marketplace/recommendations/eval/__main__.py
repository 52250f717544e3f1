"""``python -m oja.marketplace.recommendations.eval [--small] [--users N --products N --events N]
[--seed S]``: generate the planted dataset, evaluate every strategy, print the table; exit 1 when
the served (personal) strategy is not above the popularity baseline."""

from __future__ import annotations

import argparse
import sys
import time

from oja.marketplace.recommendations.eval import (
    BASELINE,
    SERVED,
    SMALL,
    Size,
    evaluate,
    generate,
    table,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m oja.marketplace.recommendations.eval")
    parser.add_argument("--small", action="store_true", help=f"the test's size: {SMALL}")
    parser.add_argument("--users", type=int)
    parser.add_argument("--products", type=int)
    parser.add_argument("--events", type=int)
    parser.add_argument("--seed", type=int, default=22)
    args = parser.parse_args(argv)
    base = SMALL if args.small else Size()
    size = Size(
        users=args.users or base.users,
        products=args.products or base.products,
        events=args.events or base.events,
    )
    started = time.perf_counter()
    report = evaluate(generate(size, args.seed), size)
    print(table(report))
    print(f"\n({time.perf_counter() - started:.1f} s)")
    served, baseline = report.scores[SERVED], report.scores[BASELINE]
    return 0 if served.mean_ndcg > baseline.mean_ndcg and served.hit_rate > baseline.hit_rate else 1


if __name__ == "__main__":
    sys.exit(main())
