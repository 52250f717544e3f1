"""Review rules: verified buyers only, one review per order line (product) or store order (store),
screening on every write, the summary moved in the same unit of work, votes, flags, the store's
one reply, and the admins' decisions.

``review.flagged`` is emitted on every new flag with ``review_id``, ``subject``, ``subject_id``,
``vendor_id``, ``reason`` and ``recipient_ids``: the admins (they decide; store staff are not told,
so a store cannot pressure flaggers).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core import events
from oja.core.clock import utcnow
from oja.core.pagination import Page, PageParams
from oja.marketplace.errors import (
    AlreadyFlagged,
    AlreadyReplied,
    AlreadyReviewed,
    AlreadyVoted,
    NotAVerifiedBuyer,
    OrderLineMismatch,
    OrderNotDelivered,
    PhotoNotFound,
    ProductNotFound,
    ReviewChanged,
    ReviewNotFound,
    VendorNotFound,
)
from oja.marketplace.orders.models import OrderStatus
from oja.marketplace.reviews import repository
from oja.marketplace.reviews.models import (
    Review,
    ReviewDecision,
    ReviewStatus,
    ReviewSubject,
    ReviewSummary,
)
from oja.marketplace.reviews.repository import ReviewState
from oja.marketplace.reviews.schemas import (
    AdminReviewOut,
    QueueStatus,
    RatingSummary,
    ReviewCreate,
    ReviewOut,
    ReviewPage,
    ReviewSort,
    ReviewUpdate,
)
from oja.marketplace.reviews.screening import screen
from oja.marketplace.search import service as search
from oja.marketplace.vendors.service import VendorContext


def review_out(review: Review) -> ReviewOut:
    return ReviewOut.model_validate(review)


def rating_summary(subject_id: uuid.UUID, row: ReviewSummary | None) -> RatingSummary:
    counts = [0] * 5 if row is None else [row.r1, row.r2, row.r3, row.r4, row.r5]
    count = 0 if row is None else row.count
    return RatingSummary(
        subject_id=subject_id,
        average=None if row is None else row.average,
        count=count,
        histogram={str(i + 1): n for i, n in enumerate(counts)},
    )


async def _move_summary(
    db: AsyncSession, before: ReviewState | Review | None, after: ReviewState | Review | None
) -> None:
    """Take ``before`` out of the summary and put ``after`` in (only published reviews count);
    a product's new average goes into its search index row in the same unit of work."""
    moved: set[tuple[str, uuid.UUID]] = set()
    if before is not None and before.status == ReviewStatus.published:
        await repository.bump_summary(db, before.subject, before.subject_id, before.rating, -1)
        moved.add((before.subject, before.subject_id))
    if after is not None and after.status == ReviewStatus.published:
        await repository.bump_summary(db, after.subject, after.subject_id, after.rating, +1)
        moved.add((after.subject, after.subject_id))
    for subject, subject_id in moved:
        if subject == ReviewSubject.product:
            # Read after the bump: this unit of work holds the summary row's lock, so the
            # average written is the one every later writer starts from.
            row = await repository.summary(db, subject_id)
            await search.index_rating(db, subject_id, None if row is None else row.average)


async def _check_photos(db: AsyncSession, photos: list[uuid.UUID], user_id: uuid.UUID) -> None:
    if photos and await repository.files_owned(db, photos, user_id) != len(set(photos)):
        raise PhotoNotFound("Every photo must be the id of a file you uploaded.")


async def _product_line(
    db: AsyncSession,
    user_id: uuid.UUID,
    product_id: uuid.UUID,
    vendor_id: uuid.UUID,
    line_id: uuid.UUID | None,
) -> uuid.UUID:
    """The order line this review is verified by (rules in the module docstring)."""
    if line_id is not None:
        found = await repository.buyer_line(db, user_id, line_id)
        if found is None:
            raise NotAVerifiedBuyer("That order line is not one of your orders.")
        line, order = found
        if line.product_id != product_id:
            raise OrderLineMismatch("That order line is of another product.")
        if order.status != OrderStatus.delivered:
            raise OrderNotDelivered("That order is not delivered yet.")
        if await repository.reviewed_sources(db, ReviewSubject.product, [line.id]):
            raise AlreadyReviewed("You already reviewed that order line.")
        return line.id
    lines = await repository.buyer_lines(db, vendor_id, user_id, product_id)
    if not lines:
        raise NotAVerifiedBuyer("Only buyers of this product can review it.")
    delivered = [line.id for line, order in lines if order.status == OrderStatus.delivered]
    if not delivered:
        raise OrderNotDelivered("Your order of this product is not delivered yet.")
    reviewed = await repository.reviewed_sources(db, ReviewSubject.product, delivered)
    free = [line_id for line_id in delivered if line_id not in reviewed]
    if not free:
        raise AlreadyReviewed("You already reviewed every delivered order of this product.")
    return free[0]


async def _store_order(
    db: AsyncSession, user_id: uuid.UUID, vendor_id: uuid.UUID, order_id: uuid.UUID | None
) -> uuid.UUID:
    if order_id is not None:
        order = await repository.buyer_order(db, user_id, order_id)
        if order is None:
            raise NotAVerifiedBuyer("That store order is not one of yours.")
        if order.vendor_id != vendor_id:
            raise OrderLineMismatch("That store order is from another store.")
        if order.status != OrderStatus.delivered:
            raise OrderNotDelivered("That order is not delivered yet.")
        if await repository.reviewed_sources(db, ReviewSubject.store, [order.id]):
            raise AlreadyReviewed("You already reviewed that order.")
        return order.id
    orders = await repository.buyer_orders(db, vendor_id, user_id)
    if not orders:
        raise NotAVerifiedBuyer("Only buyers from this store can review it.")
    delivered = [o.id for o in orders if o.status == OrderStatus.delivered]
    if not delivered:
        raise OrderNotDelivered("Your order from this store is not delivered yet.")
    reviewed = await repository.reviewed_sources(db, ReviewSubject.store, delivered)
    free = [o for o in delivered if o not in reviewed]
    if not free:
        raise AlreadyReviewed("You already reviewed every delivered order from this store.")
    return free[0]


async def create(
    db: AsyncSession,
    user_id: uuid.UUID,
    subject: ReviewSubject,
    subject_id: uuid.UUID,
    data: ReviewCreate,
) -> ReviewOut:
    if subject == ReviewSubject.product:
        product = await repository.product(db, subject_id)
        if product is None:
            raise ProductNotFound("No such product.")
        vendor_id = product.vendor_id
        source_id = await _product_line(db, user_id, subject_id, vendor_id, data.order_line_id)
    else:
        if await repository.approved_vendor(db, subject_id) is None:
            raise VendorNotFound("No such store.")
        vendor_id = subject_id
        source_id = await _store_order(db, user_id, vendor_id, data.store_order_id)
    await _check_photos(db, data.photos, user_id)
    screened = screen(data.title, data.body)
    review = Review(
        subject=subject,
        subject_id=subject_id,
        vendor_id=vendor_id,
        source_id=source_id,
        author_id=user_id,
        rating=data.rating,
        title=data.title,
        body=data.body,
        photos=[str(p) for p in data.photos],
        photo_count=len(data.photos),
        verified=True,
        status=screened.status,
        screening=screened.reason,
        helpful_count=0,
        open_flags=0,
    )
    db.add(review)
    await db.flush()
    await _move_summary(db, None, review)
    return review_out(review)


async def _own(db: AsyncSession, user_id: uuid.UUID, review_id: uuid.UUID) -> Review:
    review = await repository.review(db, review_id)
    if review is None or review.author_id != user_id:
        raise ReviewNotFound("No such review of yours.")
    return review


def _seen(review: Review) -> ReviewState:
    return ReviewState(
        id=review.id,
        vendor_id=review.vendor_id,
        subject=review.subject,
        subject_id=review.subject_id,
        status=review.status,
        rating=review.rating,
    )


async def update(
    db: AsyncSession, user_id: uuid.UUID, review_id: uuid.UUID, data: ReviewUpdate
) -> ReviewOut:
    review = await _own(db, user_id, review_id)
    before = _seen(review)
    values: dict[str, object] = {}
    if data.rating is not None:
        values["rating"] = data.rating
    if data.title is not None:
        values["title"] = data.title
    if data.body is not None:
        values["body"] = data.body
    if data.photos is not None:
        await _check_photos(db, data.photos, user_id)
        values["photos"] = [str(p) for p in data.photos]
        values["photo_count"] = len(data.photos)
    if data.title is not None or data.body is not None:
        screened = screen(data.title or review.title, data.body or review.body)
        # An edit is screened again; an admin's hide is never undone by editing.
        if review.status != ReviewStatus.hidden or review.screening is not None:
            values["status"] = screened.status
            values["screening"] = screened.reason
    if not values:
        return review_out(review)
    values["updated_at"] = utcnow()
    if not await repository.change(db, before, **values):
        raise ReviewChanged("The review changed meanwhile; read it again.")
    after = replace(
        before,
        rating=data.rating if data.rating is not None else before.rating,
        status=str(values.get("status", before.status)),
    )
    await _move_summary(db, before, after)
    await db.refresh(review)
    return review_out(review)


async def delete(db: AsyncSession, user_id: uuid.UUID, review_id: uuid.UUID) -> None:
    review = await _own(db, user_id, review_id)
    before = _seen(review)
    if not await repository.delete(db, before):
        raise ReviewChanged("The review changed meanwhile; read it again.")
    db.expunge(review)
    await _move_summary(db, before, None)


async def set_status(
    db: AsyncSession,
    review_id: uuid.UUID,
    status: ReviewStatus,
    *,
    actor_id: uuid.UUID | None,
    reason: str,
) -> AdminReviewOut:
    """An admin's decision: the new status, the open flags cleared, the decision recorded."""
    review = await repository.review(db, review_id)
    if review is None:
        raise ReviewNotFound("No such review.")
    before = _seen(review)
    if not await repository.change(
        db, before, status=status, open_flags=0, screening=None, updated_at=utcnow()
    ):
        raise ReviewChanged("The review changed meanwhile; read it again.")
    after = replace(before, status=status)
    await _move_summary(db, before, after)
    repository.record_decision(
        db,
        ReviewDecision(
            review_id=review_id,
            actor_id=actor_id,
            action="publish" if status == ReviewStatus.published else "hide",
            from_status=before.status,
            reason=reason,
        ),
    )
    await db.flush()
    await db.refresh(review)
    return AdminReviewOut.model_validate(review)


async def vote(db: AsyncSession, user_id: uuid.UUID, review_id: uuid.UUID) -> ReviewOut:
    review = await _public(db, review_id)
    if not await repository.add_vote(db, review.id, user_id):
        raise AlreadyVoted("You already found this review helpful.")
    await db.refresh(review)
    return review_out(review)


async def flag(db: AsyncSession, user_id: uuid.UUID, review_id: uuid.UUID, reason: str) -> None:
    review = await _public(db, review_id)
    if not await repository.add_flag(db, review.id, user_id, reason):
        raise AlreadyFlagged("You already flagged this review.")
    await events.emit(
        "review.flagged",
        review_id=review.id,
        subject=review.subject,
        subject_id=review.subject_id,
        vendor_id=review.vendor_id,
        reason=reason,
        recipient_ids=await repository.admin_ids(db),
    )


async def _public(db: AsyncSession, review_id: uuid.UUID) -> Review:
    review = await repository.review(db, review_id)
    if review is None or review.status != ReviewStatus.published:
        raise ReviewNotFound("No such review.")
    return review


async def reply(db: AsyncSession, ctx: VendorContext, review_id: uuid.UUID, body: str) -> ReviewOut:
    review = await repository.vendor_review(db, ctx.vendor_id, review_id)
    if review is None:
        raise ReviewNotFound("No such review of your store or its products.")
    if not await repository.set_reply(
        db, ctx.vendor_id, review_id, reply=body, replied_at=utcnow(), replied_by=ctx.user_id
    ):
        raise AlreadyReplied("Your store already answered this review.")
    answered = await repository.vendor_review(db, ctx.vendor_id, review_id)
    assert answered is not None
    return review_out(answered)


async def summary(db: AsyncSession, subject_id: uuid.UUID) -> RatingSummary:
    return rating_summary(subject_id, await repository.summary(db, subject_id))


async def product_rating(db: AsyncSession, product_id: uuid.UUID) -> RatingSummary:
    if await repository.product(db, product_id) is None:
        raise ProductNotFound("No such product.")
    return await summary(db, product_id)


async def listing(
    db: AsyncSession,
    subject: ReviewSubject,
    subject_id: uuid.UUID,
    *,
    rating: int | None,
    with_photos: bool | None,
    verified: bool | None,
    sort: ReviewSort,
    paging: PageParams,
) -> ReviewPage:
    if subject == ReviewSubject.product:
        if await repository.product(db, subject_id) is None:
            raise ProductNotFound("No such product.")
    elif await repository.approved_vendor(db, subject_id) is None:
        raise VendorNotFound("No such store.")
    where: list[ColumnElement[bool]] = [
        Review.subject == subject,
        Review.subject_id == subject_id,
        Review.status == ReviewStatus.published,
    ]
    if rating is not None:
        where.append(Review.rating == rating)
    if with_photos is not None:
        where.append(Review.photo_count > 0 if with_photos else Review.photo_count == 0)
    if verified is not None:
        where.append(Review.verified.is_(verified))
    items, total = await repository.page_of(db, where, sort, paging)
    page = Page[ReviewOut].of([review_out(r) for r in items], total=total, params=paging)
    return ReviewPage(
        **page.model_dump(exclude={"items"}),
        items=page.items,
        summary=await summary(db, subject_id),
    )


async def queue(db: AsyncSession, status: QueueStatus, paging: PageParams) -> Page[AdminReviewOut]:
    where: list[ColumnElement[bool]] = (
        [Review.open_flags > 0, Review.status != ReviewStatus.hidden]
        if status == QueueStatus.flagged
        else [Review.status == ReviewStatus.pending]
    )
    items, total = await repository.page_of(db, where, ReviewSort.oldest, paging)
    return Page[AdminReviewOut].of(
        [AdminReviewOut.model_validate(r) for r in items], total=total, params=paging
    )


@dataclass(frozen=True)
class Drift:
    subject_id: uuid.UUID
    stored: dict[str, int]
    actual: dict[str, int]


def _shape(row: ReviewSummary | None) -> dict[str, int]:
    if row is None:
        return {"count": 0, "total": 0, "r1": 0, "r2": 0, "r3": 0, "r4": 0, "r5": 0}
    return {
        "count": row.count,
        "total": row.total,
        "r1": row.r1,
        "r2": row.r2,
        "r3": row.r3,
        "r4": row.r4,
        "r5": row.r5,
    }


async def reconcile(db: AsyncSession, *, fix: bool = True) -> list[Drift]:
    """Recompute every summary from the published rows; report (and by default repair) drift."""
    actual = await repository.recount(db)
    stored = {row.subject_id: row for row in await repository.all_summaries(db)}
    drift: list[Drift] = []
    for subject_id in sorted(set(actual) | set(stored)):
        subject, histogram = actual.get(
            subject_id, (stored[subject_id].subject if subject_id in stored else "product", {})
        )
        want = {f"r{r}": histogram.get(r, 0) for r in range(1, 6)}
        want["count"] = sum(histogram.values())
        want["total"] = sum(r * n for r, n in histogram.items())
        have = _shape(stored.get(subject_id))
        if have != want:
            drift.append(Drift(subject_id, have, want))
            if fix:
                await repository.overwrite_summary(db, subject, subject_id, histogram)
                if subject == ReviewSubject.product:
                    row = await repository.summary(db, subject_id)
                    await search.index_rating(db, subject_id, None if row is None else row.average)
    return drift
