"""The retrieval quality gates: on the synthetic set hit@5 stays at or above 0.90; on real text (a
SQuAD article and its questions) Oja is never below BM25 over its own chunks, in hit@1 and hit@5."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from oja.rag.eval import (
    BM25_BASELINE,
    DENSE_BASELINE,
    DENSE_CHILDREN_BASELINE,
    OJA,
    add_corpus,
    evaluate,
    squad_corpus,
    synthetic_corpus,
)
from tests.conftest import make_settings
from tests.rag.conftest import user

# The shortest article (10 chunks, 108 questions), so the gate stays well under a minute; the
# whole corpus is `python -m oja.rag.eval squad` (README, retrieval).
SQUAD_SUBSET = ("Sky (United Kingdom)",)


@pytest.fixture
def settings(tmp_path: Path, sqlite_template: Path) -> Any:
    """SQLite only: the gates measure retrieval quality, not the database."""
    path = tmp_path / "oja.db"
    shutil.copy(sqlite_template, path)
    return make_settings(tmp_path, f"sqlite+aiosqlite:///{path}")


def test_the_evaluation_sets_are_well_formed() -> None:
    synthetic_set, squad_set = synthetic_corpus(), squad_corpus()
    assert (len(synthetic_set.documents), len(synthetic_set.questions)) == (32, 64)
    assert (len(squad_set.documents), len(squad_set.questions)) == (6, 955)
    for corpus in (synthetic_set, squad_set):
        for question in corpus.questions:
            document = corpus.documents[question.document]
            assert any(answer in document for answer in question.answers), question


async def test_synthetic_hit_at_5_is_at_least_090(app: Any, client: httpx.AsyncClient) -> None:
    owner, _ = await user(client)
    corpus = synthetic_corpus()
    names = await add_corpus(app.state.runtime, owner, corpus)
    report = await evaluate(app.state.runtime, owner, names, corpus)
    oja = report.of(OJA)
    assert (report.questions, len(oja.ranks)) == (64, 64)
    assert oja.hit_at_5 >= 0.90, oja.misses
    assert oja.hit_at_1 <= oja.hit_at_5
    assert 0 < oja.mrr <= 1


async def test_on_real_text_oja_is_not_below_bm25(app: Any, client: httpx.AsyncClient) -> None:
    owner, _ = await user(client)
    corpus = squad_corpus(SQUAD_SUBSET)
    names = await add_corpus(app.state.runtime, owner, corpus)
    report = await evaluate(app.state.runtime, owner, names, corpus)
    oja, bm25, dense, children = (
        report.of(s) for s in (OJA, BM25_BASELINE, DENSE_BASELINE, DENSE_CHILDREN_BASELINE)
    )
    assert report.questions == 108
    assert all(len(s.ranks) == 108 for s in (oja, bm25, dense, children))
    assert oja.hit_at_1 >= bm25.hit_at_1, (oja.hit_at_1, bm25.hit_at_1)
    assert oja.hit_at_5 >= bm25.hit_at_5, (oja.hit_at_5, bm25.hit_at_5)
    assert oja.hit_at_5 >= dense.hit_at_5, (oja.hit_at_5, dense.hit_at_5)
