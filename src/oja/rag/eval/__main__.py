"""``python -m oja.rag.eval [corpus …]`` (``make eval``): index each evaluation corpus in a scratch
SQLite database and print Oja's hit@1, hit@5 and MRR@5 next to the baselines', as markdown."""

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


async def run(folder: Path, corpus: Corpus) -> tuple[Report, float]:
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
        return await evaluate(runtime, owner_id, names, corpus), indexed
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


async def main(names: list[str]) -> None:
    configure_logging("WARNING", json=False)  # one line per indexed document would bury the tables
    print(f"Embedding model: `{embedding_name()}`; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as scratch:
        for name in names:
            print_report(*await run(Path(scratch), CORPORA[name]()))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:] or list(CORPORA)))
