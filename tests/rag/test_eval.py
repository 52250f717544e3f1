"""The retrieval quality gate: hit@5 on the built-in evaluation set stays at or above 0.90."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from oja.rag.eval import add_corpus, evaluate, load_documents, load_questions
from tests.conftest import make_settings
from tests.rag.conftest import user


@pytest.fixture
def settings(tmp_path: Path, sqlite_template: Path) -> Any:
    """SQLite only: the gate measures retrieval quality, not the database."""
    import shutil

    path = tmp_path / "oja.db"
    shutil.copy(sqlite_template, path)
    return make_settings(tmp_path, f"sqlite+aiosqlite:///{path}")


def test_the_evaluation_set_is_well_formed() -> None:
    documents = load_documents()
    questions = load_questions()
    assert len(documents) >= 30
    assert len(questions) >= 60
    for question in questions:
        assert question.phrase in documents[question.document], question


async def test_hit_at_5_is_at_least_090(app: Any, client: httpx.AsyncClient) -> None:
    owner, _ = await user(client)
    names = await add_corpus(app.state.runtime, owner)
    report = await evaluate(app.state.runtime, owner, names)
    assert report.questions == len(load_questions())
    assert report.hit_at_5 >= 0.90, report.misses
    assert report.hit_at_1 <= report.hit_at_5
    assert 0 < report.mrr <= 1
