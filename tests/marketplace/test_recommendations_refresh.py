"""The refresh's output is the reference's (issue 25): co-occurrence counted in NumPy equals the
former pure-Python count to the last bit, and the rows the refresh writes in bulk (SQLite and
PostgreSQL) are a brute-force recount of the planted behaviour, and the personal and trending
lists those of the reference algorithm."""

from __future__ import annotations

import math
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

import pytest

from oja.core.clock import utcnow
from oja.core.db import unit_of_work
from oja.marketplace.recommendations import scoring, service
from oja.marketplace.recommendations.models import BehaviourEvent

from .conftest import rows


def reference_co_occurrence(
    baskets: Iterable[Sequence[Any]], *, limit: int, only: set[Any] | None = None
) -> dict[Any, scoring.Ranked[Any]]:
    """The pure-Python algorithm the refresh ran before issue 25, kept as the reference."""
    counts: Counter[Any] = Counter()
    pairs: dict[Any, Counter[Any]] = defaultdict(Counter)
    for basket in baskets:
        items = list(dict.fromkeys(basket))
        counts.update(items)
        for a in items:
            if only is not None and a not in only:
                continue
            row = pairs[a]
            for b in items:
                if b != a:
                    row[b] += 1
    return {
        a: scoring._top({b: c / math.sqrt(counts[a] * counts[b]) for b, c in row.items()}, limit)
        for a, row in pairs.items()
    }


def _baskets(seed: int, products: int, baskets: int) -> list[list[int]]:
    rng = random.Random(seed)
    # Skewed picks, repeats inside a basket, single-item baskets: ties and empty lists happen.
    return [
        [int(rng.paretovariate(1.2)) % products for _ in range(rng.randint(1, 12))]
        for _ in range(baskets)
    ]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("limit", [1, 3, 20])
def test_co_occurrence_equals_the_reference_to_the_last_bit(seed: int, limit: int) -> None:
    baskets = _baskets(seed, products=40, baskets=300)
    only = set(random.Random(seed).sample(range(40), 10))
    for restrict in (None, only, set(), {999}):
        got = scoring.co_occurrence(baskets, limit=limit, only=restrict)
        want = reference_co_occurrence(baskets, limit=limit, only=restrict)
        assert got == want  # floats compared with ==: bit for bit
        assert [type(s) for ranked in got.values() for _, s in ranked] == [
            float for ranked in want.values() for _ in ranked
        ]


def test_co_occurrence_of_string_ids_and_nothing() -> None:
    baskets = [["b", "a", "c"], ["a", "c"], ["c"], []]
    assert scoring.co_occurrence(baskets, limit=5) == reference_co_occurrence(baskets, limit=5)
    assert scoring.co_occurrence([], limit=5) == {}
    assert scoring.co_occurrence([[], []], limit=5) == {}


async def _plant(app: Any, seed: int) -> list[tuple[str, uuid.UUID, str, uuid.UUID | None, Any]]:
    """Random behaviour of 30 callers over 25 products (ids without catalogue rows: no
    category), some of it in the trending window, purchases in order groups."""
    rng = random.Random(seed)
    products = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(25)]
    now = utcnow()
    planted = []
    for n in range(30):
        subject = f"c:subject-{n:03d}"
        group = uuid.uuid4()
        for _ in range(rng.randint(1, 40)):
            kind = rng.choice(["view", "view", "view", "cart", "purchase"])
            at = now - timedelta(days=rng.uniform(1, 60), seconds=rng.randint(0, 86400))
            product = products[int(rng.paretovariate(1.1)) % len(products)]
            planted.append((subject, product, kind, group if kind == "purchase" else None, at))
    async with unit_of_work(app.state.runtime.database) as db:
        for subject, product, kind, group, at in planted:
            db.add(
                BehaviourEvent(
                    kind=kind, subject=subject, product_id=product, group_id=group, created_at=at
                )
            )
    return planted


def _expected_neighbours(
    baskets: Iterable[Iterable[uuid.UUID]], limit: int
) -> dict[tuple[str, int], tuple[str, float]]:
    """A brute-force recount: every pair of products, the baskets holding both."""
    sets = [set(b) for b in baskets]
    products = sorted(set().union(*sets))
    found = {}
    for a in products:
        scored = []
        for b in products:
            both = sum(1 for s in sets if a in s and b in s)
            if b != a and both:
                n_a = sum(1 for s in sets if a in s)
                n_b = sum(1 for s in sets if b in s)
                scored.append((-(both / math.sqrt(n_a * n_b)), b))
        for rank, (score, b) in enumerate(sorted(scored)[:limit]):
            found[str(a), rank] = (str(b), -score)
    return found


def _id(value: Any) -> str:
    """A UUID column's value as text, whatever the driver returned (SQLite stores hex)."""
    return str(uuid.UUID(str(value)))


async def _written(app: Any) -> tuple[dict[Any, Any], dict[Any, Any], list[Any]]:
    neighbours = await rows(
        app, "SELECT kind, product_id, rank, neighbour_id, score FROM product_neighbour"
    )
    by_kind: dict[str, dict[Any, Any]] = defaultdict(dict)
    for kind, product, rank, neighbour, score in neighbours:
        by_kind[kind][_id(product), rank] = (_id(neighbour), score)
    subjects = await rows(
        app,
        "SELECT subject, rank, product_id, score FROM subject_recommendation "
        "ORDER BY subject, rank",
    )
    lists = [(s, rank, _id(p), score) for s, rank, p, score in subjects]
    return by_kind["co_occurrence"], by_kind["co_purchase"], lists


async def test_refresh_writes_the_reference_rows(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    planted = await _plant(app, seed=25)
    runtime = app.state.runtime
    now = utcnow()

    async def refresh(full: bool) -> dict[str, Any]:
        async with unit_of_work(runtime.database) as db:
            return await service.refresh(db, runtime.settings, now=now, full=full)

    summary = await refresh(full=True)
    co, together, lists = await _written(app)
    # Baskets: each caller's 30 most recent distinct products; order groups of purchases.
    latest: dict[str, dict[uuid.UUID, Any]] = defaultdict(dict)
    groups: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for subject, product, kind, group, at in planted:
        seen = latest[subject]
        seen[product] = max(at, seen.get(product, at))
        if group is not None:
            groups[group].add(product)
    baskets = [sorted(s, key=s.__getitem__, reverse=True)[:30] for s in latest.values()]
    assert co == _expected_neighbours(baskets, 20)
    assert together == _expected_neighbours(groups.values(), 20)
    assert summary["subjects"] == 30
    assert len(lists) > 30

    # The same refresh with the reference algorithm writes the same personal and trending lists.
    monkeypatch.setattr(scoring, "co_occurrence", reference_co_occurrence)
    assert await refresh(full=True) == summary
    assert await _written(app) == (co, together, lists)
    # And an incremental pass (nothing new since the cursor) touches nothing.
    monkeypatch.undo()
    assert (await refresh(full=False))["subjects"] == 0
    assert await _written(app) == (co, together, lists)
