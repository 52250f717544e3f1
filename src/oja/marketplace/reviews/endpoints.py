"""Review routes: buyers review products and stores, anyone reads them, signed-in users vote and
flag, the store answers once, admins moderate."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from oja.core.dependencies import SessionDep
from oja.core.errors import errors
from oja.core.pagination import Page, PageParams, pagination
from oja.identity.dependencies import USER_ERRORS, RequireRole, UserPrincipal
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
from oja.marketplace.reviews import service
from oja.marketplace.reviews.models import ReviewStatus, ReviewSubject
from oja.marketplace.reviews.schemas import (
    AdminReviewOut,
    DecisionIn,
    FlagIn,
    QueueStatus,
    RatingSummary,
    ReplyIn,
    ReviewCreate,
    ReviewOut,
    ReviewPage,
    ReviewSort,
    ReviewUpdate,
)
from oja.marketplace.vendors.dependencies import VENDOR_ERRORS, CurrentVendor

router = APIRouter(tags=["marketplace: reviews"])
admin_router = APIRouter(
    prefix="/admin/reviews", tags=["marketplace: admin"], dependencies=[RequireRole("admin")]
)
Paging = Annotated[PageParams, Depends(pagination())]
CREATE_ERRORS = (
    *USER_ERRORS,
    NotAVerifiedBuyer,
    OrderNotDelivered,
    AlreadyReviewed,
    OrderLineMismatch,
    PhotoNotFound,
)


class ListFilters:
    def __init__(
        self,
        rating: Annotated[int | None, Query(ge=1, le=5)] = None,
        with_photos: bool | None = None,
        verified: bool | None = None,
        sort: ReviewSort = ReviewSort.newest,
    ) -> None:
        self.rating, self.with_photos, self.verified, self.sort = (
            rating,
            with_photos,
            verified,
            sort,
        )


Filters = Annotated[ListFilters, Depends()]


@router.post(
    "/products/{product_id}/reviews",
    status_code=status.HTTP_201_CREATED,
    response_model=ReviewOut,
    summary="Review a product you received (one review per order line)",
    responses=errors(*CREATE_ERRORS, ProductNotFound),
)
async def review_product(
    product_id: uuid.UUID, data: ReviewCreate, principal: UserPrincipal, db: SessionDep
) -> ReviewOut:
    return await service.create(db, principal.user_id, ReviewSubject.product, product_id, data)


@router.get(
    "/products/{product_id}/reviews",
    response_model=ReviewPage,
    summary="A product's published reviews, with its rating summary",
    responses=errors(ProductNotFound),
)
async def product_reviews(
    product_id: uuid.UUID, filters: Filters, paging: Paging, db: SessionDep
) -> ReviewPage:
    return await service.listing(
        db,
        ReviewSubject.product,
        product_id,
        rating=filters.rating,
        with_photos=filters.with_photos,
        verified=filters.verified,
        sort=filters.sort,
        paging=paging,
    )


@router.get(
    "/products/{product_id}/rating",
    response_model=RatingSummary,
    summary="A product's rating summary: average, count, histogram",
    responses=errors(ProductNotFound),
)
async def product_rating(product_id: uuid.UUID, db: SessionDep) -> RatingSummary:
    return await service.product_rating(db, product_id)


@router.post(
    "/vendors/{vendor_id}/reviews",
    status_code=status.HTTP_201_CREATED,
    response_model=ReviewOut,
    summary="Review a store you received an order from (one review per store order)",
    responses=errors(*CREATE_ERRORS, VendorNotFound),
)
async def review_store(
    vendor_id: uuid.UUID, data: ReviewCreate, principal: UserPrincipal, db: SessionDep
) -> ReviewOut:
    return await service.create(db, principal.user_id, ReviewSubject.store, vendor_id, data)


@router.get(
    "/vendors/{vendor_id}/reviews",
    response_model=ReviewPage,
    summary="A store's published reviews, with its rating summary",
    responses=errors(VendorNotFound),
)
async def store_reviews(
    vendor_id: uuid.UUID, filters: Filters, paging: Paging, db: SessionDep
) -> ReviewPage:
    return await service.listing(
        db,
        ReviewSubject.store,
        vendor_id,
        rating=filters.rating,
        with_photos=filters.with_photos,
        verified=filters.verified,
        sort=filters.sort,
        paging=paging,
    )


@router.patch(
    "/reviews/{review_id}",
    response_model=ReviewOut,
    summary="Edit your review (screened again)",
    responses=errors(*USER_ERRORS, ReviewNotFound, ReviewChanged, PhotoNotFound),
)
async def edit_review(
    review_id: uuid.UUID, data: ReviewUpdate, principal: UserPrincipal, db: SessionDep
) -> ReviewOut:
    return await service.update(db, principal.user_id, review_id, data)


@router.delete(
    "/reviews/{review_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete your review",
    responses=errors(*USER_ERRORS, ReviewNotFound, ReviewChanged),
)
async def delete_review(review_id: uuid.UUID, principal: UserPrincipal, db: SessionDep) -> Response:
    await service.delete(db, principal.user_id, review_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/reviews/{review_id}/helpful",
    response_model=ReviewOut,
    summary="Mark a review helpful (once per user)",
    responses=errors(*USER_ERRORS, ReviewNotFound, AlreadyVoted),
)
async def helpful(review_id: uuid.UUID, principal: UserPrincipal, db: SessionDep) -> ReviewOut:
    return await service.vote(db, principal.user_id, review_id)


@router.post(
    "/reviews/{review_id}/flag",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Flag a review for the moderators (once per user)",
    responses=errors(*USER_ERRORS, ReviewNotFound, AlreadyFlagged),
)
async def flag(
    review_id: uuid.UUID, data: FlagIn, principal: UserPrincipal, db: SessionDep
) -> Response:
    await service.flag(db, principal.user_id, review_id, data.reason)
    return Response(status_code=status.HTTP_202_ACCEPTED)


@router.post(
    "/reviews/{review_id}/reply",
    response_model=ReviewOut,
    summary="Answer a review of your store or its products (once)",
    responses=errors(*VENDOR_ERRORS, ReviewNotFound, AlreadyReplied),
)
async def reply(
    review_id: uuid.UUID, data: ReplyIn, vendor: CurrentVendor, db: SessionDep
) -> ReviewOut:
    return await service.reply(db, vendor, review_id, data.body)


@admin_router.get(
    "",
    response_model=Page[AdminReviewOut],
    summary="The moderation queue: flagged or pending reviews, oldest first (admin)",
    responses=errors(*USER_ERRORS),
)
async def moderation_queue(
    paging: Paging, db: SessionDep, review_status: Annotated[QueueStatus, Query(alias="status")]
) -> Page[AdminReviewOut]:
    return await service.queue(db, review_status, paging)


@admin_router.post(
    "/{review_id}/publish",
    response_model=AdminReviewOut,
    summary="Publish a review, with a reason (admin)",
    responses=errors(*USER_ERRORS, ReviewNotFound, ReviewChanged),
)
async def publish(
    review_id: uuid.UUID, data: DecisionIn, admin: UserPrincipal, db: SessionDep
) -> AdminReviewOut:
    return await service.set_status(
        db, review_id, ReviewStatus.published, actor_id=admin.user_id, reason=data.reason
    )


@admin_router.post(
    "/{review_id}/hide",
    response_model=AdminReviewOut,
    summary="Hide a review, with a reason (admin): it leaves the summary",
    responses=errors(*USER_ERRORS, ReviewNotFound, ReviewChanged),
)
async def hide(
    review_id: uuid.UUID, data: DecisionIn, admin: UserPrincipal, db: SessionDep
) -> AdminReviewOut:
    return await service.set_status(
        db, review_id, ReviewStatus.hidden, actor_id=admin.user_id, reason=data.reason
    )
