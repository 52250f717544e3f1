"""``python -m oja.rag.eval`` (``make eval``): index the evaluation corpus in a scratch SQLite
database and print hit@1, hit@5 and MRR@10 as a markdown table."""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from oja.core.config import Settings
from oja.core.db import unit_of_work
from oja.core.migrate import upgrade
from oja.core.runtime import Runtime
from oja.identity.models import User
from oja.rag.embedding import embedding_name
from oja.rag.eval import add_corpus, evaluate, load_questions


async def main(folder: Path) -> None:
    url = f"sqlite+aiosqlite:///{folder / 'eval.db'}"
    await asyncio.to_thread(upgrade, url)
    settings = Settings(database_url=url, var_dir=folder, env="test")
    settings.validate()
    runtime = Runtime.create(settings)
    try:
        owner_id = uuid.uuid4()
        async with unit_of_work(runtime.database) as session:
            session.add(User(id=owner_id, email="eval@example.com"))
        started = time.perf_counter()
        names = await add_corpus(runtime, owner_id)
        indexed = time.perf_counter() - started
        report = await evaluate(runtime, owner_id, names)
    finally:
        await runtime.close()
    print(
        f"Embedding model: `{embedding_name()}` — {len(names)} documents indexed in {indexed:.1f} s"
    )
    print()
    print("| questions | hit@1 | hit@5 | MRR@10 |")
    print("|---:|---:|---:|---:|")
    print(
        f"| {report.questions} | {report.hit_at_1:.3f} | {report.hit_at_5:.3f} | {report.mrr:.3f} |"
    )
    if report.misses:
        print("\nMissed at 5:")
        for miss in report.misses:
            print(f"- {miss}")
    assert report.questions == len(load_questions())


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as scratch:
        asyncio.run(main(Path(scratch)))
