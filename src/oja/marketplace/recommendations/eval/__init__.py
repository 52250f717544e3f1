"""Offline evaluation: a generated marketplace with planted preferences, each user's last purchase
held out, and every strategy's hit-rate@10 and NDCG@10 beside a popularity baseline's.

The dataset plants what the personal strategy is meant to find. Categories have a popularity
(Zipf); each category's products fall into :data:`STYLES` disjoint styles; each user likes two
categories and one style in each. Most of a user's behaviour (views, cart adds, purchases) is in
their styles, the rest is noise drawn by global popularity, and their last event is a purchase in a
style — the held-out item. A popularity baseline can only find it by luck; co-occurrence finds it
through the other users of the same style, category affinity through the category. Each user also
searches (:data:`SEARCHES`, mostly in their liked categories), which the served strategy adds to
category affinity; the same strategy without them is measured beside it.

The strategies run the production code of :mod:`oja.marketplace.recommendations.scoring`, the
functions the refresh job calls (not its SQL): what is measured here is what is served.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from oja.marketplace.recommendations import scoring
from oja.marketplace.recommendations.scoring import Interaction

STYLES = 3
NOISE = 0.15
KINDS: dict[str, float] = {"view": 0.80, "cart": 0.12, "purchase": 0.08}
HALF_LIFE_DAYS = 14.0
NEIGHBOURS = 20
SUBJECT_ITEMS = 30
K = 10
NOW = datetime(2026, 12, 1)
BASELINE = "popularity (baseline)"
SERVED = "personal (served)"
WITHOUT_SEARCHES = "personal without searches"


@dataclass(frozen=True)
class Size:
    users: int = 2_000
    products: int = 5_000
    events: int = 200_000


SMALL = Size(users=300, products=600, events=12_000)


SEARCHES = 6
"""Searches per user, drawn after the behaviour (their own random stream: the behaviour, and so
every strategy's numbers without searches, are the same with or without them)."""
SEARCH_NOISE = 0.3
"""Share of a user's searches in a category drawn by global popularity instead of a liked one."""


@dataclass
class Dataset:
    category_of: dict[int, int]
    train: list[Interaction[int]]
    held_out: dict[str, int]
    searches: dict[str, list[scoring.Search]] = field(default_factory=dict)


@dataclass
class Score:
    hits: int = 0
    ndcg: float = 0.0
    users: int = 0

    @property
    def hit_rate(self) -> float:
        return self.hits / self.users if self.users else 0.0

    @property
    def mean_ndcg(self) -> float:
        return self.ndcg / self.users if self.users else 0.0


@dataclass
class Report:
    size: Size
    scores: dict[str, Score] = field(default_factory=dict)


def _zipf(n: int, exponent: float) -> list[float]:
    return [1.0 / (rank + 1) ** exponent for rank in range(n)]


def generate(size: Size, seed: int = 22) -> Dataset:
    rng = random.Random(seed)  # noqa: S311 (a reproducible dataset, not a secret)
    categories = max(size.products // 100, 4)
    category_of = {p: p % categories for p in range(size.products)}
    by_category: dict[int, list[int]] = defaultdict(list)
    for product, category in category_of.items():
        by_category[category].append(product)
    styles = {(c, s): items[s::STYLES] for c, items in by_category.items() for s in range(STYLES)}
    category_weights = _zipf(categories, 0.7)
    # A product's global popularity: its category's, times its rank within the category's.
    global_weights = [
        category_weights[category_of[p]] / (1 + p // categories) ** 0.5
        for p in range(size.products)
    ]
    kinds, kind_weights = list(KINDS), list(KINDS.values())
    per_user = max(size.events // size.users, 4)
    start = NOW - timedelta(days=60)
    train: list[Interaction[int]] = []
    held_out: dict[str, int] = {}
    searches: dict[str, list[scoring.Search]] = {}
    search_rng = random.Random(seed + 1)  # noqa: S311 (as above)
    for user in range(size.users):
        subject = f"u{user}"
        liked = rng.choices(range(categories), weights=category_weights, k=2)
        searches[subject] = [
            scoring.Search(
                search_rng.choices(range(categories), weights=category_weights)[0]
                if search_rng.random() < SEARCH_NOISE
                else search_rng.choice(liked),
                start + timedelta(days=search_rng.uniform(0, 60)),
            )
            for _ in range(SEARCHES)
        ]
        taste = [styles[(c, rng.randrange(STYLES))] for c in liked]
        taste_items = [p for style in taste for p in style]
        taste_weights = [w for style in taste for w in _zipf(len(style), 0.6)]
        at = start + timedelta(minutes=rng.randrange(60 * 24 * 10))
        step = timedelta(days=50) / per_user
        for _ in range(per_user - 1):
            if rng.random() < NOISE:
                product = rng.choices(range(size.products), weights=global_weights)[0]
            else:
                product = rng.choices(taste_items, weights=taste_weights)[0]
            kind = rng.choices(kinds, weights=kind_weights)[0]
            train.append(Interaction(subject, product, kind, at, None))
            at += step
        bought = {i.product for i in train[-(per_user - 1) :] if i.kind == "purchase"}
        choices = [p for p in taste_items if p not in bought]
        held_out[subject] = rng.choices(
            choices, weights=[taste_weights[taste_items.index(p)] for p in choices]
        )[0]
    return Dataset(category_of=category_of, train=train, held_out=held_out, searches=searches)


def _credit(score: Score, ranked: scoring.Ranked[int], target: int) -> None:
    score.users += 1
    for rank, (product, _) in enumerate(ranked[:K]):
        if product == target:
            score.hits += 1
            score.ndcg += 1.0 / math.log2(rank + 2)
            return


def evaluate(data: Dataset, size: Size) -> Report:
    popular = scoring.popularity(data.train, NOW, HALF_LIFE_DAYS)
    baskets = scoring.recent_items(data.train, SUBJECT_ITEMS)
    model = scoring.Model(
        neighbours=scoring.co_occurrence(baskets.values(), limit=NEIGHBOURS),
        category_of=data.category_of,
        by_category=scoring.popular_by_category(
            popular, data.category_of, scoring.AFFINITY_CANDIDATES
        ),
    )
    histories: dict[str, list[Interaction[int]]] = defaultdict(list)
    for event in data.train:
        if event.product in baskets[event.subject]:
            histories[event.subject].append(event)
    report = Report(size=size)
    # name → (use_neighbours, use_affinity, use_searches) of scoring.personal
    strategies = {
        "co-occurrence": (True, False, False),
        "category affinity": (False, True, False),
        "category affinity with searches": (False, True, True),
        WITHOUT_SEARCHES: (True, True, False),
        SERVED: (True, True, True),
    }
    report.scores = {name: Score() for name in [BASELINE, *strategies]}
    for subject, target in data.held_out.items():
        history = histories[subject]
        bought = {e.product for e in history if e.kind == "purchase"}
        _credit(report.scores[BASELINE], scoring.top(popular, K, bought), target)
        for name, (neighbours, affinity, searched) in strategies.items():
            ranked = scoring.personal(
                history,
                model,
                now=NOW,
                half_life_days=HALF_LIFE_DAYS,
                limit=K,
                use_neighbours=neighbours,
                use_affinity=affinity,
                searches=data.searches.get(subject, []) if searched else (),
            )
            _credit(report.scores[name], ranked, target)
    return report


def table(report: Report) -> str:
    size = report.size
    lines = [
        f"{size.users} users, {size.products} products, {size.events} events; "
        "each user's last purchase held out",
        "",
        "| strategy | hit-rate@10 | NDCG@10 |",
        "| --- | ---: | ---: |",
    ]
    for name, score in report.scores.items():
        lines.append(f"| {name} | {score.hit_rate:.3f} | {score.mean_ndcg:.3f} |")
    return "\n".join(lines)
