"""Recommendation routes: public, personalised for a signed-in caller or an anonymous browser that
sends ``X-Client-Id``. They read precomputed rows (see :mod:`.service`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from oja.core.dependencies import SessionDep
from oja.core.errors import errors
from oja.core.routing import LeanRoute
from oja.marketplace.errors import ProductNotFound
from oja.marketplace.recommendations import service
from oja.marketplace.recommendations.dependencies import Visitor
from oja.marketplace.recommendations.models import NeighbourKind
from oja.marketplace.recommendations.schemas import RecommendationList
from oja.marketplace.vendors.dependencies import OPTIONAL_VENDOR_ERRORS, OptionalVendor

router = APIRouter(tags=["marketplace: recommendations"])
Limit = Annotated[int, Query(ge=1, le=50, description="How many products at most.")]


async def recommendations(
    visitor: Visitor, db: SessionDep, limit: Limit = 10
) -> RecommendationList:
    return await service.for_caller(db, visitor, limit)


router.add_api_route(
    "/recommendations",
    recommendations,
    methods=["GET"],
    response_model=RecommendationList,
    summary="Products for you: from your history, or trending when there is none (public)",
    responses=errors(*OPTIONAL_VENDOR_ERRORS),
    route_class_override=LeanRoute,
)


@router.get(
    "/products/{product_id}/similar",
    response_model=RecommendationList,
    summary="Products like this one, by title and description (public)",
    responses=errors(*OPTIONAL_VENDOR_ERRORS, ProductNotFound),
)
async def similar(
    product_id: uuid.UUID,
    viewer: OptionalVendor,
    visitor: Visitor,
    db: SessionDep,
    limit: Limit = 10,
) -> RecommendationList:
    return await service.neighbours(
        db, product_id, NeighbourKind.similar, viewer=viewer, subject=visitor, limit=limit
    )


@router.get(
    "/products/{product_id}/bought-together",
    response_model=RecommendationList,
    summary="Products bought in the same orders as this one (public)",
    responses=errors(*OPTIONAL_VENDOR_ERRORS, ProductNotFound),
)
async def bought_together(
    product_id: uuid.UUID,
    viewer: OptionalVendor,
    visitor: Visitor,
    db: SessionDep,
    limit: Limit = 10,
) -> RecommendationList:
    return await service.neighbours(
        db, product_id, NeighbourKind.co_purchase, viewer=viewer, subject=visitor, limit=limit
    )
