"""``python -m oja.rag.eval [corpus …] [--dense children]`` (``make eval``): index each evaluation
corpus in a scratch SQLite database and print Oja's hit@1, hit@5 and MRR@5 next to the baselines',
as markdown, then Oja's at each vector weight of :data:`SWEEP`. ``--dense children`` also prints the small-chunk/parent measurement of
:mod:`oja.rag.eval.children` (whole-chunk against max-child cosine, and its cost)."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from oja.core.config import Settings
from oja.core.db import unit_of_work
from oja.core.logging import configure_logging
from oja.core.migrate import upgrade
from oja.core.runtime import Runtime
from oja.identity.models import User
from oja.rag.embedding import embedding_name
from oja.rag.eval import CORPORA, Corpus, Report, add_corpus, evaluate
from oja.rag.eval.children import (
    WINDOWS,
    ChildReport,
    best_weight,
    evaluate_children,
    fusion_name,
)
from oja.rag.service import VECTOR_WEIGHT

SWEEP = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
"""Vector weights Oja is also run at, on both corpora, to choose :data:`VECTOR_WEIGHT`."""


async def run(
    folder: Path, corpus: Corpus, children: bool = False
) -> tuple[Report, float, list[ChildReport]]:
    url = f"sqlite+aiosqlite:///{folder / f'{corpus.name}.db'}"
    await asyncio.to_thread(upgrade, url)
    settings = Settings(database_url=url, var_dir=folder, env="test", log_level="WARNING")
    settings.validate()
    runtime = Runtime.create(settings)
    try:
        owner_id = uuid.uuid4()
        async with unit_of_work(runtime.database) as session:
            session.add(User(id=owner_id, email="eval@example.com"))
        started = time.perf_counter()
        names = await add_corpus(runtime, owner_id, corpus)
        indexed = time.perf_counter() - started
        report = await evaluate(runtime, owner_id, names, corpus, SWEEP)
        extra = [
            await evaluate_children(runtime, owner_id, names, corpus, window=w, stride=s)
            for w, s in (WINDOWS if children else ())
        ]
        return report, indexed, extra
    finally:
        await runtime.close()


def print_report(report: Report, indexed: float) -> None:
    print(
        f"\n### {report.corpus}: {report.documents} documents, {report.chunks} chunks "
        f"(indexed in {indexed:.0f} s), {report.questions} questions, top 5\n"
    )
    print("| system | hit@1 | hit@5 | MRR@5 |")
    print("|---|--:|--:|--:|")
    for score in report.scores:
        print(f"| {score.system} | {score.hit_at_1:.3f} | {score.hit_at_5:.3f} | {score.mrr:.3f} |")


def print_children(child: ChildReport) -> None:
    report, cost = child.report, child.cost
    print(
        f"\n#### {report.corpus}: whole-chunk against max-child cosine (windows of "
        f"{child.window} tokens, stride {child.stride})\n"
    )
    print("| system | hit@1 | hit@5 | MRR@5 |")
    print("|---|--:|--:|--:|")
    rows = report.scores[:2] + [
        report.of(fusion_name(kind, VECTOR_WEIGHT)) for kind in ("whole-chunk", "max-child")
    ]
    rows += [best_weight(report, kind) for kind in ("whole-chunk", "max-child")]
    for score in rows:
        print(f"| {score.system} | {score.hit_at_1:.3f} | {score.hit_at_5:.3f} | {score.mrr:.3f} |")
    print("\nEvery fusion weight (hit@1 / hit@5 / MRR@5):")
    for score in report.scores[2:]:
        print(f"- {score.system}: {score.hit_at_1:.3f} / {score.hit_at_5:.3f} / {score.mrr:.3f}")
    print(
        f"\nCost: {cost.children} child vectors for {cost.chunks} chunks "
        f"({cost.children / cost.chunks:.1f} per chunk); embedding the chunks "
        f"{cost.embed_whole:.1f} s, their children {cost.embed_children:.1f} s; dense scoring "
        f"per question {cost.query_whole * 1e6:.0f} µs whole, {cost.query_children * 1e6:.0f} µs "
        f"children; at 10k chunks {cost.scaled_whole * 1e3:.2f} ms whole, "
        f"{cost.scaled_children * 1e3:.2f} ms children (one BLAS thread)."
    )


async def main(names: list[str]) -> None:
    configure_logging("WARNING", json=False)  # one line per indexed document would bury the tables
    children = "--dense" in names
    if children:
        at = names.index("--dense")
        if names[at + 1 : at + 2] != ["children"]:
            raise SystemExit("usage: python -m oja.rag.eval [corpus …] [--dense children]")
        names = names[:at] + names[at + 2 :]
    print(f"Embedding model: `{embedding_name(Settings())}`; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as scratch:
        for name in names or list(CORPORA):
            report, indexed, extra = await run(Path(scratch), CORPORA[name](), children)
            print_report(report, indexed)
            for child in extra:
                print_children(child)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
