"""Recommendations: the periodic refreshes that precompute lists, and the reads that serve them.

**Refresh** (:func:`refresh`, every few minutes). Reads the scored behaviour of the history window
(views, cart adds, purchases; searches, by the category each answer found most of, for category
affinity), and rewrites only what the behaviour since its cursor touched: the
co-occurrence lists of every product in a touched caller's recent basket, the co-purchase lists of
what they bought, their personal lists, and the trending list. ``full=True`` (the daily rebuild)
rewrites everything, catching what the incremental pass leaves stale: scores of untouched products
whose neighbours' counts moved, behaviour aged out of the window. The cursor trails by
:data:`OVERLAP`, so a transaction that committed late, or a view buffered a while, is still read;
re-reading is harmless because lists are recomputed, never incremented.

**Similar** (:func:`refresh_similar`, hourly). Embeds title and description of each visible
product whose text changed (MiniLM, the RAG module's in-process model), then recomputes every
product's nearest neighbours exactly (a block-wise matrix product: 10,000 products is a few
seconds; an ANN index is the next step past ~100,000).

**Reads** take the precomputed head and filter at read time what a refresh cannot know: stock,
product and store status, and what the caller bought since.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.config import Settings
from oja.core.db import after_commit
from oja.core.runtime import current_runtime
from oja.marketplace.catalog import repository as catalog_repository
from oja.marketplace.errors import ProductNotFound
from oja.marketplace.orders import repository as orders_repository
from oja.marketplace.recommendations import recorder, repository, scoring
from oja.marketplace.recommendations.config import RecommendationSettings
from oja.marketplace.recommendations.models import TRENDING, BehaviourKind, NeighbourKind
from oja.marketplace.recommendations.schemas import RecommendationList, RecommendedProduct
from oja.marketplace.vendors.service import VendorContext
from oja.rag.embedding import MINILM_NAME, MiniLMEmbedder

BEHAVIOUR_CURSOR = "behaviour"
OVERLAP = timedelta(minutes=10)


# Recording


async def record_purchase(
    db: AsyncSession,
    *,
    order_id: uuid.UUID,
    vendor_id: uuid.UUID,
    buyer_id: uuid.UUID,
    group_id: uuid.UUID,
) -> int:
    """One purchase row per product of a confirmed store order, in the confirming unit of work
    (its lines as the confirming payment read them for the whole group, if it did)."""
    lines = orders_repository.lines_in_hand(db, vendor_id, order_id)
    if lines is None:
        products = await repository.purchased_products(db, vendor_id, order_id)
    else:
        products = [line.product_id for line in lines if line.product_id is not None]
    for product_id in dict.fromkeys(products):
        recorder.record(db, BehaviourKind.purchase, str(buyer_id), product_id, group_id=group_id)
    return len(products)


async def attribute_anonymous(db: AsyncSession, user_id: uuid.UUID, client_id: str | None) -> int:
    """At a sign-in: the behaviour recorded under the browser's client id becomes the user's, in
    the sign-in's unit of work; how many rows moved. Only ``c:<client id>`` rows move, so no
    user's history is ever given to another; signing in again finds none left (merged once). A
    ``merge`` row marks the user for the next incremental refresh (the moved rows are older than
    its cursor); the browser's own list goes, its history being the user's now. Views still in
    this process's buffer are relabelled once the sign-in commits."""
    anonymous = recorder.subject_of(None, client_id)
    if anonymous is None:
        return 0
    user = str(user_id)
    moved = await repository.attribute(db, anonymous, user)
    runtime = current_runtime()

    async def relabel() -> None:
        recorder.relabel_buffered(runtime, anonymous, user)

    after_commit(db, relabel)
    if moved:
        recorder.record(db, BehaviourKind.merge, user, query=anonymous)
        await repository.delete_subject_lists(db, anonymous)
    return moved


# Refresh


async def refresh(
    db: AsyncSession, settings: Settings, *, now: datetime | None = None, full: bool = False
) -> dict[str, Any]:
    conf = settings.section(RecommendationSettings)
    now = now or utcnow()
    last = None if full else await repository.cursor(db, BEHAVIOUR_CURSOR)
    touched = None if last is None else await repository.subjects_since(db, last - OVERLAP)
    since = now - timedelta(days=conf.recommendation_history_days)
    stored = await repository.interactions(db, since)
    searched: dict[str, list[scoring.Search]] = defaultdict(list)
    for subject, category, at in await repository.searches(db, since):
        searched[subject].append(scoring.Search(category, at))
    # Scored as dense ints in product-id order: ints hash in C (a UUID's hash is Python code, most
    # of the refresh's time otherwise), and their order is the ids' for ties.
    ids = sorted({e.product for e in stored})
    index = {product: i for i, product in enumerate(ids)}
    events = [
        scoring.Interaction(e.subject, index[e.product], e.kind, e.at, e.group) for e in stored
    ]
    baskets = scoring.recent_items(events, conf.recommendation_subject_items)
    # A caller who only searched has a list too: the popular products of what they searched.
    known = set(baskets) | set(searched)
    if touched is None:
        subjects, products, bought = known, None, None
    else:
        subjects = touched & known
        products = {p for s in subjects for p in baskets.get(s, ())}
        bought = {e.product for e in events if e.kind == "purchase" and e.subject in subjects}
    limit = conf.recommendation_neighbours
    co = scoring.co_occurrence(baskets.values(), limit=limit, only=products)
    together = scoring.co_purchase(events, limit=limit, only=bought)

    half_life = conf.recommendation_half_life_days
    popular = scoring.popularity(events, now, half_life)
    categories = await repository.categories_of(db, ids)
    category_of = {index[p]: c for p, c in categories.items()}
    model = scoring.Model(
        neighbours=co,
        category_of=category_of,
        by_category=scoring.popular_by_category(popular, category_of, scoring.AFFINITY_CANDIDATES),
    )
    # A caller's history is their recent basket: the products whose neighbours were just listed.
    recent_basket = {subject: set(baskets.get(subject, ())) for subject in subjects}
    histories: dict[str, list[scoring.Interaction[int]]] = defaultdict(list)
    for event in events:
        if event.product in recent_basket.get(event.subject, ()):
            histories[event.subject].append(event)
    per_subject = conf.recommendation_per_subject
    lists = {
        subject: scoring.personal(
            histories[subject],
            model,
            now=now,
            half_life_days=half_life,
            limit=per_subject,
            searches=searched.get(subject, ()),
        )
        for subject in subjects
    }
    trending_since = now - timedelta(days=conf.recommendation_trending_days)
    recent = [e for e in events if e.at >= trending_since]
    lists[TRENDING] = scoring.top(
        scoring.popularity(recent, now, conf.recommendation_trending_days / 2), per_subject
    )

    def as_ids(ranked: scoring.Ranked[int]) -> scoring.Ranked[uuid.UUID]:
        return [(ids[p], score) for p, score in ranked]

    def rewritten(touched: set[int] | None) -> list[uuid.UUID] | None:
        return None if touched is None else [ids[p] for p in touched]

    await repository.replace_neighbours(
        db,
        NeighbourKind.co_occurrence,
        {ids[p]: as_ids(r) for p, r in co.items()},
        rewritten(products),
    )
    await repository.replace_neighbours(
        db,
        NeighbourKind.co_purchase,
        {ids[p]: as_ids(r) for p, r in together.items()},
        rewritten(bought),
    )
    await repository.replace_subjects(db, {s: as_ids(r) for s, r in lists.items()}, now)
    await repository.set_cursor(db, BEHAVIOUR_CURSOR, now)
    return {
        "full": touched is None,
        "events": len(events),
        "subjects": len(subjects),
        "co_occurrence": len(co),
        "co_purchase": len(together),
    }


def _text(title: str, description: str | None) -> str:
    return f"{title}. {description}" if description else title


async def refresh_similar(
    db: AsyncSession, settings: Settings, *, full: bool = False
) -> dict[str, Any]:
    conf = settings.section(RecommendationSettings)
    products = await repository.visible_texts(db)
    stored = await repository.embeddings(db)
    texts = {pid: _text(title, description) for pid, title, description in products}
    hashes = {pid: hashlib.sha256(text.encode()).hexdigest() for pid, text in texts.items()}
    todo = [
        pid for pid in texts if pid not in stored or stored[pid][:2] != (MINILM_NAME, hashes[pid])
    ]
    vectors = {
        pid: np.frombuffer(vector, dtype=np.float32)
        for pid, (model, _, vector) in stored.items()
        if model == MINILM_NAME
    }
    if todo:
        embedded = await MiniLMEmbedder().embed([texts[pid] for pid in todo])
        await repository.replace_embeddings(
            db,
            [
                {
                    "product_id": pid,
                    "model": MINILM_NAME,
                    "text_hash": hashes[pid],
                    "vector": embedded[i].tobytes(),
                }
                for i, pid in enumerate(todo)
            ],
        )
        vectors.update({pid: embedded[i] for i, pid in enumerate(todo)})
    gone = set(stored) - set(texts)
    await repository.delete_embeddings(db, gone)
    if not (todo or full or gone):
        return {"embedded": 0, "products": len(texts)}
    ids = [pid for pid, _, _ in products]
    matrix = np.stack([vectors[pid] for pid in ids]) if ids else np.zeros((0, 1), dtype=np.float32)
    lists = scoring.nearest(ids, matrix, limit=conf.recommendation_neighbours)
    await repository.replace_neighbours(db, NeighbourKind.similar, lists, None)
    return {"embedded": len(todo), "products": len(texts)}


# Reads


def _items(rows: list[Any]) -> list[RecommendedProduct]:
    return [
        RecommendedProduct(
            id=pid, title=title, vendor_id=vendor_id, category_id=category_id, score=round(score, 6)
        )
        for pid, title, vendor_id, category_id, score in rows
    ]


async def for_caller(db: AsyncSession, subject: str | None, limit: int) -> RecommendationList:
    """The caller's personal list; trending for a caller without one (or none left servable).
    Never a mix: scores of the two lists are not on one scale."""
    personal, rows = await repository.recommended_for(db, subject, limit)
    return RecommendationList(strategy="personal" if personal else "trending", items=_items(rows))


async def neighbours(
    db: AsyncSession,
    product_id: uuid.UUID,
    kind: NeighbourKind,
    *,
    viewer: VendorContext | None,
    subject: str | None,
    limit: int,
) -> RecommendationList:
    own = viewer.vendor_id if viewer is not None else None
    if await catalog_repository.visible_product(db, product_id, own_vendor_id=own) is None:
        raise ProductNotFound("No such product.")
    rows = await repository.neighbours(db, product_id, kind, subject, limit)
    return RecommendationList(strategy=kind.value, items=_items(rows))
