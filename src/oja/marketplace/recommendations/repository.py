"""SQL of recommendations. Reads that serve requests are Core statements over the precomputed
rows, with what may have changed since the last refresh filtered at read time."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Select, bindparam, delete, exists, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.marketplace.catalog.models import Product, ProductStatus, ProductVariant
from oja.marketplace.imports.repository import insert_at_once
from oja.marketplace.orders.models import OrderLine
from oja.marketplace.recommendations.models import (
    TRENDING,
    BehaviourEvent,
    BehaviourKind,
    NeighbourKind,
    ProductEmbedding,
    ProductNeighbour,
    RecommendationCursor,
    SubjectRecommendation,
)
from oja.marketplace.recommendations.scoring import Interaction, Ranked
from oja.marketplace.vendors.models import Vendor, VendorStatus

CHUNK = 500
SCORED_KINDS = (BehaviourKind.view, BehaviourKind.cart, BehaviourKind.purchase)
TOUCHING_KINDS = (*SCORED_KINDS, BehaviourKind.search, BehaviourKind.merge)


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


# Behaviour


async def purchased_products(
    db: AsyncSession, vendor_id: uuid.UUID, order_id: uuid.UUID
) -> list[uuid.UUID]:
    found = await db.scalars(
        select(OrderLine.product_id).where(
            OrderLine.vendor_id == vendor_id,
            OrderLine.order_id == order_id,
            OrderLine.product_id.is_not(None),
        )
    )
    return [p for p in found if p is not None]


async def add_events(db: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await db.execute(insert(BehaviourEvent), rows)


async def attribute(db: AsyncSession, anonymous: str, user: str) -> int:
    """Every behaviour row of the ``anonymous`` subject becomes ``user``'s; how many moved. Only
    that exact subject is touched (never another user's rows), and a second call finds nothing
    left to move."""
    result = await db.execute(
        update(BehaviourEvent)
        .where(BehaviourEvent.subject == anonymous)
        .values(subject=user)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_subject_lists(db: AsyncSession, subject: str) -> None:
    await db.execute(delete(SubjectRecommendation).where(SubjectRecommendation.subject == subject))


async def cursor(db: AsyncSession, name: str) -> datetime | None:
    return await db.scalar(select(RecommendationCursor.at).where(RecommendationCursor.name == name))


async def set_cursor(db: AsyncSession, name: str, at: datetime) -> None:
    await db.execute(delete(RecommendationCursor).where(RecommendationCursor.name == name))
    await db.execute(insert(RecommendationCursor).values(name=name, at=at))


async def subjects_since(db: AsyncSession, since: datetime) -> set[str]:
    """Subjects whose list may have changed: new scored behaviour, searches, or a merge."""
    found = await db.scalars(
        select(BehaviourEvent.subject)
        .where(BehaviourEvent.created_at > since, BehaviourEvent.kind.in_(TOUCHING_KINDS))
        .distinct()
    )
    return set(found)


async def interactions(db: AsyncSession, since: datetime) -> list[Interaction[uuid.UUID]]:
    """Every scored behaviour (views, cart adds, purchases) since ``since``, oldest first."""
    result = await db.execute(
        select(
            BehaviourEvent.subject,
            BehaviourEvent.product_id,
            BehaviourEvent.kind,
            BehaviourEvent.created_at,
            BehaviourEvent.group_id,
        )
        .where(
            BehaviourEvent.created_at >= since,
            BehaviourEvent.kind.in_(SCORED_KINDS),
            BehaviourEvent.product_id.is_not(None),
        )
        .order_by(BehaviourEvent.created_at)
    )
    return [Interaction(s, p, k, at, g) for s, p, k, at, g in result.all() if p is not None]


async def searches(db: AsyncSession, since: datetime) -> list[tuple[str, uuid.UUID, datetime]]:
    """``(subject, category, at)`` of every search since ``since`` whose answer had a category."""
    result = await db.execute(
        select(BehaviourEvent.subject, BehaviourEvent.category_id, BehaviourEvent.created_at)
        .where(
            BehaviourEvent.created_at >= since,
            BehaviourEvent.kind == BehaviourKind.search,
            BehaviourEvent.category_id.is_not(None),
        )
        .order_by(BehaviourEvent.created_at)
    )
    return [(s, c, at) for s, c, at in result.all() if c is not None]


async def categories_of(
    db: AsyncSession, product_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID | None]:
    # A job's read across every store: a product's category is public catalogue data.
    found: dict[uuid.UUID, uuid.UUID | None] = {}
    for chunk in _chunks(sorted(set(product_ids))):
        rows = await db.execute(
            select(Product.id, Product.category_id).where(Product.id.in_(chunk))
        )
        found.update({pid: cid for pid, cid in rows.all()})  # noqa: C416 (Rows are not pairs)
    return found


# Precomputed rows


async def replace_neighbours(
    db: AsyncSession,
    kind: NeighbourKind,
    lists: Mapping[uuid.UUID, Ranked[uuid.UUID]],
    products: Iterable[uuid.UUID] | None,
) -> None:
    """Rewrite the ``kind`` lists of ``products`` (every product when None) with ``lists``."""
    if products is None:
        await db.execute(delete(ProductNeighbour).where(ProductNeighbour.kind == kind))
    else:
        for chunk in _chunks(sorted(set(products))):
            await db.execute(
                delete(ProductNeighbour).where(
                    ProductNeighbour.kind == kind, ProductNeighbour.product_id.in_(chunk)
                )
            )
    rows = [
        {"product_id": p, "kind": kind, "rank": rank, "neighbour_id": n, "score": score}
        for p, ranked in lists.items()
        for rank, (n, score) in enumerate(ranked)
    ]
    # One statement (an ``unnest`` of one array per column on PostgreSQL): an executemany was a
    # round of ORM bookkeeping and one INSERT per row, most of the refresh's time (issue 25).
    await insert_at_once(db, ProductNeighbour, rows)


async def neighbour_lists(
    db: AsyncSession, kind: NeighbourKind, products: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Ranked[uuid.UUID]]:
    found: dict[uuid.UUID, Ranked[uuid.UUID]] = {}
    for chunk in _chunks(sorted(set(products))):
        rows = await db.execute(
            select(
                ProductNeighbour.product_id, ProductNeighbour.neighbour_id, ProductNeighbour.score
            )
            .where(ProductNeighbour.kind == kind, ProductNeighbour.product_id.in_(chunk))
            .order_by(ProductNeighbour.product_id, ProductNeighbour.rank)
        )
        for product, neighbour, score in rows.all():
            found.setdefault(product, []).append((neighbour, score))
    return found


async def replace_subjects(
    db: AsyncSession, lists: Mapping[str, Ranked[uuid.UUID]], at: datetime
) -> None:
    for chunk in _chunks(sorted(lists)):
        await db.execute(
            delete(SubjectRecommendation).where(SubjectRecommendation.subject.in_(chunk))
        )
    rows = [
        {"subject": s, "rank": rank, "product_id": p, "score": score, "computed_at": at}
        for s, ranked in lists.items()
        for rank, (p, score) in enumerate(ranked)
    ]
    await insert_at_once(db, SubjectRecommendation, rows)


# Reads that serve requests


def _servable(product_id: Any, subject: Any) -> list[Any]:
    """A recommendable product: active, of an approved store, in stock, not bought by the caller."""
    conditions: list[Any] = [
        Product.id == product_id,
        Product.status == ProductStatus.active,
        Vendor.status == VendorStatus.approved,
        exists().where(
            ProductVariant.vendor_id == Product.vendor_id,
            ProductVariant.product_id == Product.id,
            ProductVariant.deleted_at.is_(None),
            ProductVariant.stock > 0,
        ),
    ]
    if subject is not None:
        conditions.append(
            ~exists().where(
                BehaviourEvent.subject == subject,
                BehaviourEvent.kind == BehaviourKind.purchase,
                BehaviourEvent.product_id == Product.id,
            )
        )
    return conditions


COLUMNS = (Product.id, Product.title, Product.vendor_id, Product.category_id)


_GENERIC_PLAN = text("SET LOCAL plan_cache_mode = force_generic_plan")


def _head_query(
    table: type[SubjectRecommendation] | type[ProductNeighbour],
    product_id: Any,
    where: list[Any],
    *,
    caller: Any,
    limit: Any,
    order_by: Sequence[Any] = (),
    extra: Sequence[Any] = (),
) -> Select[Any]:
    """The first ``limit`` servable rows of one precomputed list, best first (after
    ``order_by``), with the ``extra`` columns after the score."""
    return (
        select(*COLUMNS, table.score, *extra)
        .join(Product, Product.id == product_id)
        .join(Vendor, Vendor.id == Product.vendor_id)
        .where(*where, *_servable(product_id, caller))
        .order_by(*order_by, table.rank)
        .limit(limit)
    )


async def _head(
    db: AsyncSession, query: Select[Any], params: Mapping[str, Any] | None = None
) -> list[Any]:
    """The rows of a :func:`_head_query`.

    On PostgreSQL the statement runs under ``plan_cache_mode = force_generic_plan`` (for the rest
    of this read's transaction): its prepared statement is then planned once per connection
    instead of per request — planning a five-relation join with two (anti-)semi-joins cost more
    than executing it (``bench/recommendations.py``). Its one good plan does not depend on the
    parameter values: primary-key and index look-ups from the list's few rows."""
    if db.get_bind().dialect.name == "postgresql":
        await db.execute(_GENERIC_PLAN)
    return list((await db.execute(query, params)).all())


_RECOMMENDED: dict[bool, Select[Any]] = {}
""":func:`recommended_for`'s statement, for anonymous callers and for signed-in ones, built once
with bound parameters (``subjects``, ``caller``, ``limit``): building it per request cost more
CPU than the rest of the read (issue 25)."""


def _recommended_query(signed_in: bool) -> Select[Any]:
    query = _RECOMMENDED.get(signed_in)
    if query is None:
        is_trending = SubjectRecommendation.subject == TRENDING
        subjects = bindparam("subjects", expanding=True, type_=SubjectRecommendation.subject.type)
        caller = bindparam("caller", type_=BehaviourEvent.subject.type) if signed_in else None
        query = _RECOMMENDED[signed_in] = _head_query(
            SubjectRecommendation,
            SubjectRecommendation.product_id,
            [SubjectRecommendation.subject.in_(subjects)],
            caller=caller,
            limit=bindparam("limit", type_=Integer),
            order_by=(is_trending,),
            extra=(is_trending,),
        )
    return query


async def recommended_for(
    db: AsyncSession, subject: str | None, limit: int
) -> tuple[bool, list[Any]]:
    """The servable head of the caller's own list, else of trending, in one statement (two lists
    asked in turn were four statements with their plan settings, issue 25): both lists' rows,
    the caller's first, cut at ``limit``; any of the caller's rows means theirs alone. True when
    the rows are the caller's."""
    params: dict[str, Any] = {"limit": limit}
    if subject is None:
        params["subjects"] = [TRENDING]
    else:
        params.update(subjects=[subject, TRENDING], caller=subject)
    rows = await _head(db, _recommended_query(subject is not None), params)
    personal = [row[:-1] for row in rows if not row[-1]]
    return (True, personal) if personal else (False, [row[:-1] for row in rows])


async def neighbours(
    db: AsyncSession,
    product_id: uuid.UUID,
    kind: NeighbourKind,
    caller: str | None,
    limit: int,
) -> list[Any]:
    where = [ProductNeighbour.product_id == product_id, ProductNeighbour.kind == kind]
    query = _head_query(
        ProductNeighbour, ProductNeighbour.neighbour_id, where, caller=caller, limit=limit
    )
    return await _head(db, query)


# Content


async def visible_texts(db: AsyncSession) -> list[tuple[uuid.UUID, str, str | None]]:
    """Every active product of an approved store, with the text its embedding is made from."""
    rows = await db.execute(
        select(Product.id, Product.title, Product.description)
        .join(Vendor, Vendor.id == Product.vendor_id)
        .where(Product.status == ProductStatus.active, Vendor.status == VendorStatus.approved)
        .order_by(Product.id)
    )
    return [(pid, title, description) for pid, title, description in rows.all()]


async def embeddings(db: AsyncSession) -> dict[uuid.UUID, tuple[str, str, bytes]]:
    rows = await db.execute(
        select(
            ProductEmbedding.product_id,
            ProductEmbedding.model,
            ProductEmbedding.text_hash,
            ProductEmbedding.vector,
        )
    )
    return {pid: (model, text_hash, vector) for pid, model, text_hash, vector in rows.all()}


async def replace_embeddings(db: AsyncSession, rows: list[dict[str, Any]]) -> None:
    for chunk in _chunks(rows):
        ids = [row["product_id"] for row in chunk]
        await db.execute(delete(ProductEmbedding).where(ProductEmbedding.product_id.in_(ids)))
        await db.execute(insert(ProductEmbedding), list(chunk))


async def delete_embeddings(db: AsyncSession, product_ids: Iterable[uuid.UUID]) -> None:
    for chunk in _chunks(sorted(set(product_ids))):
        await db.execute(delete(ProductEmbedding).where(ProductEmbedding.product_id.in_(chunk)))
