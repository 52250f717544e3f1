"""SQL for reviews and their summaries. The reply route is a vendor route: its statements filter
on ``vendor_id``; the buyer's order look-ups are scoped by the store being reviewed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy import delete as sql_delete
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.db import insert_ignore
from oja.core.pagination import PageParams
from oja.files.models import File
from oja.identity.models import UserRole
from oja.marketplace.catalog.models import Product
from oja.marketplace.orders.models import OrderLine, StoreOrder
from oja.marketplace.reviews.models import (
    Review,
    ReviewDecision,
    ReviewFlag,
    ReviewStatus,
    ReviewSubject,
    ReviewSummary,
    ReviewVote,
)
from oja.marketplace.reviews.schemas import ReviewSort
from oja.marketplace.vendors.models import Vendor, VendorStatus


@dataclass(frozen=True)
class ReviewState:
    """What a request read of a review before changing it: the change applies only if these
    still hold, and the summary moves by exactly them."""

    id: uuid.UUID
    vendor_id: uuid.UUID
    subject: str
    subject_id: uuid.UUID
    status: str
    rating: int


_BUCKETS = {1: "r1", 2: "r2", 3: "r3", 4: "r4", 5: "r5"}


async def product(db: AsyncSession, product_id: uuid.UUID) -> Product | None:
    return await db.get(Product, product_id)


async def approved_vendor(db: AsyncSession, vendor_id: uuid.UUID) -> Vendor | None:
    query = select(Vendor).where(Vendor.id == vendor_id, Vendor.status == VendorStatus.approved)
    return (await db.scalars(query)).first()


async def buyer_lines(
    db: AsyncSession, vendor_id: uuid.UUID, buyer_id: uuid.UUID, product_id: uuid.UUID
) -> Sequence[tuple[OrderLine, StoreOrder]]:
    """The buyer's lines of the product, most recently delivered (or ordered) first."""
    query = (
        select(OrderLine, StoreOrder)
        .join(StoreOrder, StoreOrder.id == OrderLine.order_id)
        .where(
            OrderLine.vendor_id == vendor_id,
            StoreOrder.vendor_id == vendor_id,
            StoreOrder.buyer_id == buyer_id,
            OrderLine.product_id == product_id,
        )
        .order_by(StoreOrder.delivered_at.desc(), StoreOrder.created_at.desc(), OrderLine.id)
    )
    return [(line, order) for line, order in (await db.execute(query)).all()]


async def buyer_line(
    db: AsyncSession, buyer_id: uuid.UUID, line_id: uuid.UUID
) -> tuple[OrderLine, StoreOrder] | None:
    query = (
        select(OrderLine, StoreOrder)
        .join(StoreOrder, StoreOrder.id == OrderLine.order_id)
        .where(OrderLine.id == line_id, StoreOrder.buyer_id == buyer_id)
    )
    row = (await db.execute(query)).first()
    return None if row is None else (row[0], row[1])


async def buyer_orders(
    db: AsyncSession, vendor_id: uuid.UUID, buyer_id: uuid.UUID
) -> Sequence[StoreOrder]:
    query = (
        select(StoreOrder)
        .where(StoreOrder.vendor_id == vendor_id, StoreOrder.buyer_id == buyer_id)
        .order_by(StoreOrder.delivered_at.desc(), StoreOrder.created_at.desc(), StoreOrder.id)
    )
    return (await db.scalars(query)).all()


async def buyer_order(
    db: AsyncSession, buyer_id: uuid.UUID, order_id: uuid.UUID
) -> StoreOrder | None:
    query = select(StoreOrder).where(StoreOrder.id == order_id, StoreOrder.buyer_id == buyer_id)
    return (await db.scalars(query)).first()


async def reviewed_sources(
    db: AsyncSession, subject: ReviewSubject, source_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    if not source_ids:
        return set()
    query = select(Review.source_id).where(
        Review.subject == subject, Review.source_id.in_(set(source_ids))
    )
    return set((await db.scalars(query)).all())


async def files_owned(db: AsyncSession, ids: Sequence[uuid.UUID], owner_id: uuid.UUID) -> int:
    query = select(func.count()).where(File.id.in_(set(ids)), File.owner_id == owner_id)
    return int((await db.execute(query)).scalar_one())


async def review(db: AsyncSession, review_id: uuid.UUID) -> Review | None:
    return await db.get(Review, review_id)


async def vendor_review(
    db: AsyncSession, vendor_id: uuid.UUID, review_id: uuid.UUID
) -> Review | None:
    query = (
        select(Review)
        .where(Review.vendor_id == vendor_id, Review.id == review_id)
        .execution_options(populate_existing=True)
    )
    return (await db.scalars(query)).first()


async def change(db: AsyncSession, seen: ReviewState, **values: Any) -> bool:
    """Apply ``values`` only if the review's status and rating are still what ``seen`` read (the
    summary moves by what this request saw, so two racing writers never both move it)."""
    result = await db.execute(
        update(Review)
        .where(
            Review.id == seen.id,
            Review.vendor_id == seen.vendor_id,
            Review.status == seen.status,
            Review.rating == seen.rating,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def set_reply(
    db: AsyncSession, vendor_id: uuid.UUID, review_id: uuid.UUID, **values: Any
) -> bool:
    result = await db.execute(
        update(Review)
        .where(Review.vendor_id == vendor_id, Review.id == review_id, Review.reply.is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def delete(db: AsyncSession, seen: ReviewState) -> bool:
    result = await db.execute(
        sql_delete(Review).where(
            Review.id == seen.id,
            Review.vendor_id == seen.vendor_id,
            Review.status == seen.status,
            Review.rating == seen.rating,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def bump_summary(
    db: AsyncSession, subject: str, subject_id: uuid.UUID, rating: int, delta: int
) -> None:
    """``count``, ``total`` and the rating's bucket move by ``delta`` in one atomic UPDATE (the
    row is created first if missing, with an insert that ignores a concurrent one)."""
    bucket = getattr(ReviewSummary, _BUCKETS[rating])
    statement = (
        update(ReviewSummary)
        .where(ReviewSummary.subject_id == subject_id)
        .values(
            {
                ReviewSummary.count: ReviewSummary.count + delta,
                ReviewSummary.total: ReviewSummary.total + delta * rating,
                bucket: bucket + delta,
            }
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(await db.execute(statement), "rowcount", 0):
        return
    await db.execute(
        insert_ignore(db, ReviewSummary).values(
            subject_id=subject_id, subject=subject, count=0, total=0, r1=0, r2=0, r3=0, r4=0, r5=0
        )
    )
    await db.execute(statement)


async def summary(db: AsyncSession, subject_id: uuid.UUID) -> ReviewSummary | None:
    query = select(ReviewSummary).where(ReviewSummary.subject_id == subject_id)
    return (await db.execute(query.execution_options(populate_existing=True))).scalars().first()


async def all_summaries(db: AsyncSession) -> Sequence[ReviewSummary]:
    query = select(ReviewSummary).execution_options(populate_existing=True)
    return (await db.scalars(query)).all()


async def recount(db: AsyncSession) -> dict[uuid.UUID, tuple[str, dict[int, int]]]:
    """Published reviews per subject and rating, straight from the rows."""
    query = (
        select(Review.subject, Review.subject_id, Review.rating, func.count())
        .where(Review.status == ReviewStatus.published)
        .group_by(Review.subject, Review.subject_id, Review.rating)
    )
    found: dict[uuid.UUID, tuple[str, dict[int, int]]] = {}
    for subject, subject_id, rating, n in (await db.execute(query)).all():
        found.setdefault(subject_id, (subject, {}))[1][rating] = int(n)
    return found


async def overwrite_summary(
    db: AsyncSession, subject: str, subject_id: uuid.UUID, histogram: dict[int, int]
) -> None:
    values: dict[str, Any] = {_BUCKETS[r]: histogram.get(r, 0) for r in _BUCKETS}
    values["count"] = sum(histogram.values())
    values["total"] = sum(r * n for r, n in histogram.items())
    await db.execute(
        insert_ignore(db, ReviewSummary).values(
            subject_id=subject_id, subject=subject, count=0, total=0, r1=0, r2=0, r3=0, r4=0, r5=0
        )
    )
    await db.execute(
        update(ReviewSummary)
        .where(ReviewSummary.subject_id == subject_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


_ORDER: dict[ReviewSort, tuple[Any, ...]] = {
    ReviewSort.newest: (Review.created_at.desc(), Review.id.desc()),
    ReviewSort.oldest: (Review.created_at.asc(), Review.id.asc()),
    ReviewSort.highest: (Review.rating.desc(), Review.created_at.desc(), Review.id.desc()),
    ReviewSort.lowest: (Review.rating.asc(), Review.created_at.desc(), Review.id.desc()),
    ReviewSort.most_helpful: (
        Review.helpful_count.desc(),
        Review.created_at.desc(),
        Review.id.desc(),
    ),
}


async def page_of(
    db: AsyncSession,
    where: list[ColumnElement[bool]],
    sort: ReviewSort,
    paging: PageParams,
) -> tuple[Sequence[Review], int]:
    total = int(
        (await db.execute(select(func.count()).select_from(Review).where(*where))).scalar_one()
    )
    query = (
        select(Review)
        .where(*where)
        .order_by(*_ORDER[sort])
        .offset(paging.offset)
        .limit(paging.per_page)
    )
    return (await db.scalars(query)).all(), total


async def add_vote(db: AsyncSession, review_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    inserted = await db.execute(
        insert_ignore(db, ReviewVote)
        .values(review_id=review_id, user_id=user_id)
        .returning(ReviewVote.review_id)
    )
    if inserted.first() is None:
        return False
    await db.execute(
        update(Review)
        .where(Review.id == review_id)
        .values(helpful_count=Review.helpful_count + 1)
        .execution_options(synchronize_session=False)
    )
    return True


async def add_flag(db: AsyncSession, review_id: uuid.UUID, user_id: uuid.UUID, reason: str) -> bool:
    inserted = await db.execute(
        insert_ignore(db, ReviewFlag)
        .values(review_id=review_id, user_id=user_id, reason=reason)
        .returning(ReviewFlag.review_id)
    )
    if inserted.first() is None:
        return False
    await db.execute(
        update(Review)
        .where(Review.id == review_id)
        .values(open_flags=Review.open_flags + 1)
        .execution_options(synchronize_session=False)
    )
    return True


async def admin_ids(db: AsyncSession) -> list[uuid.UUID]:
    query = select(UserRole.user_id).where(UserRole.role == "admin").order_by(UserRole.user_id)
    return list((await db.scalars(query)).all())


def record_decision(db: AsyncSession, decision: ReviewDecision) -> None:
    db.add(decision)
