"""The recommendation algorithms, pure: no database, so the periodic jobs and the offline
evaluation (:mod:`oja.marketplace.recommendations.eval`) run exactly the same code.

Products are any hashable id. Behaviour weighs by kind (a purchase says more than a view) and by
recency (halved every ``half_life_days``).
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

P = TypeVar("P", bound=Hashable)

KIND_WEIGHTS: dict[str, float] = {"view": 1.0, "cart": 3.0, "purchase": 5.0}
AFFINITY_WEIGHT = 0.5
"""How much category affinity counts beside co-occurrence (both scaled to a best of 1)."""
AFFINITY_CATEGORIES = 3
"""A caller's strongest categories whose popular products become candidates."""
AFFINITY_CANDIDATES = 30
SEARCH_WEIGHT = 2.0
"""What a search adds to the affinity of the category its answer found most of (a view adds 1
to its product's category, a cart add 3, a purchase 5; recency-decayed alike)."""


@dataclass(frozen=True, slots=True)
class Search:
    """A search of the caller's: the category its answer found most of, and when."""

    category: Hashable
    at: datetime


@dataclass(frozen=True, slots=True)
class Interaction(Generic[P]):
    subject: str
    product: P
    kind: str
    at: datetime
    group: Hashable | None = None


Ranked = list[tuple[P, float]]


def decay(at: datetime, now: datetime, half_life_days: float) -> float:
    age = max((now - at).total_seconds(), 0.0) / 86400.0
    return float(0.5 ** (age / half_life_days))


def _top(scores: Mapping[P, float], limit: int) -> Ranked[P]:
    # Ties by id so that every run (and every test) ranks the same way: ids must be ordered (the
    # refresh scores dense ints standing for the sorted product ids).
    return heapq.nsmallest(limit, scores.items(), key=lambda kv: (-kv[1], kv[0]))


def recent_items(interactions: Iterable[Interaction[P]], per_subject: int) -> dict[str, list[P]]:
    """Each subject's distinct products, most recent first, at most ``per_subject``."""
    latest: dict[str, dict[P, datetime]] = defaultdict(dict)
    for it in interactions:
        if it.kind not in KIND_WEIGHTS:
            continue
        seen = latest[it.subject]
        if it.product not in seen or seen[it.product] < it.at:
            seen[it.product] = it.at
    return {
        subject: [p for p, _ in sorted(items.items(), key=lambda kv: kv[1], reverse=True)][
            :per_subject
        ]
        for subject, items in latest.items()
    }


def co_occurrence(
    baskets: Iterable[Sequence[P]], *, limit: int, only: set[P] | None = None
) -> dict[P, Ranked[P]]:
    """Item-to-item neighbours: ``C(a, b) / sqrt(n_a * n_b)`` (cosine over baskets), where ``C``
    counts the baskets holding both and ``n`` the baskets holding each. ``only`` restricts which
    products get a list (the incremental refresh's touched products); every product of a basket
    that may have one has one, empty when it was never with another.

    Counted in NumPy over dense indices of the sorted products (so that index order is id order
    for ties): every ordered pair of each basket, counted by :func:`numpy.unique`. The score is
    the same IEEE arithmetic as ``c / math.sqrt(n_a * n_b)`` (exact integer product, correctly
    rounded square root and division), so equal to the last bit."""
    items = [list(dict.fromkeys(basket)) for basket in baskets]
    # Ids must be ordered, as for :func:`_top`'s ties (``Hashable`` does not say so).
    distinct: set[Any] = {p for basket in items for p in basket}
    products: list[P] = sorted(distinct)
    listed = products if only is None else [p for p in products if p in only]
    found: dict[P, Ranked[P]] = {p: [] for p in listed}
    if not listed:
        return found
    index = {p: i for i, p in enumerate(products)}
    sizes = np.fromiter((len(basket) for basket in items), dtype=np.int64, count=len(items))
    flat = np.fromiter(
        (index[p] for basket in items for p in basket), dtype=np.int64, count=int(sizes.sum())
    )
    counts = np.bincount(flat, minlength=len(products))
    # Element i of ``flat`` pairs with each element of its basket: repeated that basket's size.
    starts = np.cumsum(sizes) - sizes
    basket_of = np.repeat(np.arange(len(items)), sizes)
    repeats = sizes[basket_of]
    a = np.repeat(flat, repeats)
    within = np.arange(a.size) - np.repeat(np.cumsum(repeats) - repeats, repeats)
    b = flat[np.repeat(starts[basket_of], repeats) + within]
    keep = a != b
    if only is not None:
        wanted = np.fromiter((p in only for p in products), dtype=bool, count=len(products))
        keep &= wanted[a]
    width = len(products)
    pairs, together = np.unique(a[keep] * width + b[keep], return_counts=True)
    a, b = pairs // width, pairs % width
    scores = together / np.sqrt(counts[a] * counts[b])
    # Per product, best first, ties by id; the first ``limit`` of each.
    order = np.lexsort((b, -scores, a))
    a, b, scores = a[order], b[order], scores[order]
    position = np.arange(a.size)
    first = np.ones(a.size, dtype=bool)
    first[1:] = a[1:] != a[:-1]
    rank = position - np.maximum.accumulate(np.where(first, position, 0))
    head = rank < limit
    for i, j, score in zip(a[head].tolist(), b[head].tolist(), scores[head].tolist(), strict=True):
        found[products[i]].append((products[j], score))
    return found


def popularity(
    interactions: Iterable[Interaction[P]], now: datetime, half_life_days: float
) -> dict[P, float]:
    """Weighted, recency-decayed count of behaviour per product."""
    scores: dict[P, float] = defaultdict(float)
    for it in interactions:
        weight = KIND_WEIGHTS.get(it.kind)
        if weight is not None:
            scores[it.product] += weight * decay(it.at, now, half_life_days)
    return dict(scores)


def popular_by_category(
    scores: Mapping[P, float], category_of: Mapping[P, Hashable | None], limit: int
) -> dict[Hashable, Ranked[P]]:
    grouped: dict[Hashable, dict[P, float]] = defaultdict(dict)
    for product, score in scores.items():
        category = category_of.get(product)
        if category is not None:
            grouped[category][product] = score
    return {category: _top(items, limit) for category, items in grouped.items()}


def top(scores: Mapping[P, float], limit: int, exclude: Collection[P] = ()) -> Ranked[P]:
    return _top({p: s for p, s in scores.items() if p not in exclude}, limit)


@dataclass(frozen=True, slots=True)
class Model(Generic[P]):
    """What personal lists are computed from: neighbour lists and popularity per category."""

    neighbours: Mapping[P, Ranked[P]]
    category_of: Mapping[P, Hashable | None]
    by_category: Mapping[Hashable, Ranked[P]]


def personal(
    history: Sequence[Interaction[P]],
    model: Model[P],
    *,
    now: datetime,
    half_life_days: float,
    limit: int,
    use_neighbours: bool = True,
    use_affinity: bool = True,
    searches: Sequence[Search] = (),
) -> Ranked[P]:
    """A caller's ranked list: the neighbours of what they saw, carted and bought (weighted by kind
    and recency), plus the popular products of their strongest categories (affinity: the
    categories of those products, and of their ``searches``). What they bought is never in it."""
    weights: dict[P, float] = defaultdict(float)
    bought: set[P] = set()
    for it in history:
        kind_weight = KIND_WEIGHTS.get(it.kind)
        if kind_weight is None:
            continue
        weights[it.product] += kind_weight * decay(it.at, now, half_life_days)
        if it.kind == "purchase":
            bought.add(it.product)
    scores: dict[P, float] = defaultdict(float)
    if use_neighbours:
        for product, weight in weights.items():
            for neighbour, similarity in model.neighbours.get(product, ()):
                scores[neighbour] += weight * similarity
    _scale(scores)
    if use_affinity:
        affinity: dict[Hashable, float] = defaultdict(float)
        for product, weight in weights.items():
            category = model.category_of.get(product)
            if category is not None:
                affinity[category] += weight
        for search in searches:
            affinity[search.category] += SEARCH_WEIGHT * decay(search.at, now, half_life_days)
        total = sum(affinity.values())
        strongest = sorted(affinity.items(), key=lambda kv: (-kv[1], str(kv[0])))
        for category, weight in strongest[:AFFINITY_CATEGORIES]:
            ranked = model.by_category.get(category, [])[:AFFINITY_CANDIDATES]
            best = ranked[0][1] if ranked else 1.0
            for product, pop in ranked:
                scores[product] += AFFINITY_WEIGHT * (weight / total) * (pop / best)
    return top(scores, limit, bought)


def _scale(scores: dict[P, float]) -> None:
    best = max(scores.values(), default=0.0)
    if best > 0:
        for key in scores:
            scores[key] /= best


def co_purchase(
    interactions: Iterable[Interaction[P]], *, limit: int, only: set[P] | None = None
) -> dict[P, Ranked[P]]:
    """Bought together: co-occurrence over order groups of purchases."""
    groups: dict[Hashable, list[P]] = defaultdict(list)
    for it in interactions:
        if it.kind == "purchase" and it.group is not None:
            groups[it.group].append(it.product)
    return co_occurrence(groups.values(), limit=limit, only=only)


def nearest(
    ids: Sequence[P], vectors: NDArray[np.float32], *, limit: int, block: int = 1024
) -> dict[P, Ranked[P]]:
    """Each row's ``limit`` nearest other rows by cosine (rows are unit vectors), exact, computed
    a block of rows at a time so memory stays ``block × len(ids)``."""
    found: dict[P, Ranked[P]] = {}
    count = len(ids)
    keep = min(limit, count - 1)
    if keep <= 0:
        return {p: [] for p in ids}
    for start in range(0, count, block):
        sims = vectors[start : start + block] @ vectors.T
        for offset in range(sims.shape[0]):
            sims[offset, start + offset] = -np.inf
        best = np.argpartition(-sims, keep - 1, axis=1)[:, :keep]
        for offset, row in enumerate(best):
            # Ties by position in ``ids``.
            ordered = sorted(row.tolist(), key=lambda j: (-sims[offset, j], j))
            found[ids[start + offset]] = [(ids[j], float(sims[offset, j])) for j in ordered]
    return found
