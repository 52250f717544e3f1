"""Category and product routes. Reads are public; categories are written by admins, products by
the members of the store that owns them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response, status

from oja.core.dependencies import RuntimeDep, SessionDep
from oja.core.errors import InvalidRequest, ServiceUnavailable, errors
from oja.core.pagination import Page, PageParams, pagination
from oja.core.routing import LeanRoute
from oja.files.errors import (
    EmptyFile,
    InvalidUpload,
    MalformedUpload,
    NotMultipart,
    UploadTooLarge,
)
from oja.files.upload_stream import MultipartUpload, multipart_openapi
from oja.identity.dependencies import USER_ERRORS, OptionalPrincipal, RequireRole
from oja.marketplace.catalog import categories, images, service
from oja.marketplace.catalog.config import CatalogSettings
from oja.marketplace.catalog.models import ProductStatus
from oja.marketplace.catalog.schemas import (
    CategoryCreate,
    CategoryDetail,
    CategoryFilter,
    CategoryNode,
    CategoryOut,
    CategoryUpdate,
    PriceBound,
    PriceChangeOut,
    ProductCreate,
    ProductImageOut,
    ProductImageUpdate,
    ProductOut,
    ProductSort,
    ProductUpdate,
    StoreFilter,
    VariantCreate,
    VariantOut,
    VariantUpdate,
)
from oja.marketplace.errors import (
    CategoryCycle,
    CategoryInUse,
    CategoryNotFound,
    CategorySlugTaken,
    CurrencyMismatch,
    ImageNotFound,
    LastVariant,
    NotAnImage,
    ProductNotFound,
    SkuTaken,
    StoreSessionEnded,
    StoreTrafficLimit,
    TooManyImages,
    VariantNotFound,
)
from oja.marketplace.recommendations import recorder
from oja.marketplace.recommendations.dependencies import Visitor
from oja.marketplace.vendors.dependencies import (
    ACTIVE_VENDOR_ERRORS,
    OPTIONAL_VENDOR_ERRORS,
    ActiveVendor,
    OptionalVendor,
)

category_router = APIRouter(prefix="/categories", tags=["marketplace: catalog"])
product_router = APIRouter(prefix="/products", tags=["marketplace: catalog"])
ADMIN = [RequireRole("admin")]


@category_router.get(
    "",
    response_model=list[CategoryNode],
    summary="The whole category tree, nested (public)",
    responses=errors(ServiceUnavailable),
)
async def category_tree(db: SessionDep, runtime: RuntimeDep) -> list[CategoryNode]:
    return await categories.tree(db, runtime.cache)


@category_router.get(
    "/{id_or_slug}",
    response_model=CategoryDetail,
    summary="A category with its breadcrumb and children (public)",
    responses=errors(CategoryNotFound),
)
async def category_detail(id_or_slug: str, db: SessionDep) -> CategoryDetail:
    return await categories.detail(db, id_or_slug)


@category_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CategoryOut,
    summary="Create a category (admin)",
    dependencies=ADMIN,
    responses=errors(*USER_ERRORS, CategoryNotFound, CategorySlugTaken, InvalidRequest),
)
async def create_category(data: CategoryCreate, db: SessionDep, runtime: RuntimeDep) -> CategoryOut:
    return await categories.create(db, runtime.cache, data)


@category_router.patch(
    "/{category_id}",
    response_model=CategoryOut,
    summary="Rename or move a category with its subtree (admin)",
    dependencies=ADMIN,
    responses=errors(
        *USER_ERRORS, CategoryNotFound, CategorySlugTaken, CategoryCycle, InvalidRequest
    ),
)
async def update_category(
    category_id: uuid.UUID, data: CategoryUpdate, db: SessionDep, runtime: RuntimeDep
) -> CategoryOut:
    return await categories.update(db, runtime.cache, category_id, data)


@category_router.delete(
    "/{category_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a category with no children and no products (admin)",
    dependencies=ADMIN,
    responses=errors(*USER_ERRORS, CategoryNotFound, CategoryInUse, InvalidRequest),
)
async def delete_category(category_id: uuid.UUID, db: SessionDep, runtime: RuntimeDep) -> Response:
    await categories.remove(db, runtime.cache, category_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def list_products(
    *,
    db: SessionDep,
    runtime: RuntimeDep,
    paging: Annotated[PageParams, Depends(pagination())],
    category: CategoryFilter = None,
    vendor: StoreFilter = None,
    min_price: PriceBound = None,
    max_price: PriceBound = None,
    in_stock: Annotated[bool | None, Query(description="Only products with stock.")] = None,
    sort: Annotated[ProductSort, Query()] = "newest",
) -> Response:
    # The body is serialised once by the service (a Page[ProductOut]; response_model documents it).
    body = await service.list_products(
        db,
        runtime.cache,
        category=category,
        vendor=vendor,
        min_price=min_price,
        max_price=max_price,
        in_stock=in_stock,
        sort=sort,
        paging=paging,
    )
    return Response(body, media_type="application/json")


product_router.add_api_route(
    "",
    list_products,
    methods=["GET"],
    response_model=Page[ProductOut],
    summary="Active products of approved stores, filtered and sorted (public)",
    responses=errors(InvalidRequest),
    route_class_override=LeanRoute,
)


@product_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ProductOut,
    summary="Create a product in your store, with its variants",
    responses=errors(*ACTIVE_VENDOR_ERRORS, CategoryNotFound, SkuTaken, InvalidRequest),
)
async def create_product(data: ProductCreate, vendor: ActiveVendor, db: SessionDep) -> ProductOut:
    return await service.create_product(db, vendor, data)


async def get_product(
    product_id: uuid.UUID,
    *,
    viewer: OptionalVendor,
    caller: OptionalPrincipal,
    visitor: Visitor,
    db: SessionDep,
    runtime: RuntimeDep,
    background: BackgroundTasks,
) -> Response:
    user = caller.user_id if caller is not None and caller.kind == "user" else None
    product = await service.get_product(db, product_id, viewer, visitor_id=user)
    if product.status == ProductStatus.active:
        recorder.record_view(runtime, background, visitor, product.id)
    return Response(product.body, media_type="application/json")


product_router.add_api_route(
    "/{product_id}",
    get_product,
    methods=["GET"],
    response_model=ProductOut,
    summary="A product (public when active in an approved store; its store sees drafts)",
    responses=errors(
        *OPTIONAL_VENDOR_ERRORS,
        ProductNotFound,
        InvalidRequest,
        StoreTrafficLimit,
        StoreSessionEnded,
    ),
    route_class_override=LeanRoute,
)


@product_router.patch(
    "/{product_id}",
    response_model=ProductOut,
    summary="Edit one of your products",
    responses=errors(*ACTIVE_VENDOR_ERRORS, ProductNotFound, CategoryNotFound, InvalidRequest),
)
async def update_product(
    product_id: uuid.UUID, data: ProductUpdate, vendor: ActiveVendor, db: SessionDep
) -> ProductOut:
    return await service.update_product(db, vendor, product_id, data)


@product_router.delete(
    "/{product_id}",
    response_model=ProductOut,
    summary="Archive one of your products (it stays in orders and history)",
    responses=errors(*ACTIVE_VENDOR_ERRORS, ProductNotFound, InvalidRequest),
)
async def archive_product(
    product_id: uuid.UUID, vendor: ActiveVendor, db: SessionDep
) -> ProductOut:
    return await service.archive_product(db, vendor, product_id)


@product_router.post(
    "/{product_id}/variants",
    status_code=status.HTTP_201_CREATED,
    response_model=VariantOut,
    summary="Add a variant to one of your products",
    responses=errors(
        *ACTIVE_VENDOR_ERRORS, ProductNotFound, CurrencyMismatch, SkuTaken, InvalidRequest
    ),
)
async def add_variant(
    product_id: uuid.UUID, data: VariantCreate, vendor: ActiveVendor, db: SessionDep
) -> VariantOut:
    return await service.add_variant(db, vendor, product_id, data)


@product_router.patch(
    "/{product_id}/variants/{variant_id}",
    response_model=VariantOut,
    summary="Edit a variant (a price change is recorded)",
    responses=errors(
        *ACTIVE_VENDOR_ERRORS,
        ProductNotFound,
        VariantNotFound,
        CurrencyMismatch,
        SkuTaken,
        InvalidRequest,
    ),
)
async def update_variant(
    product_id: uuid.UUID,
    variant_id: uuid.UUID,
    data: VariantUpdate,
    vendor: ActiveVendor,
    db: SessionDep,
) -> VariantOut:
    return await service.update_variant(db, vendor, product_id, variant_id, data)


@product_router.delete(
    "/{product_id}/variants/{variant_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a variant (never a product's last one)",
    responses=errors(*ACTIVE_VENDOR_ERRORS, VariantNotFound, LastVariant, InvalidRequest),
)
async def delete_variant(
    product_id: uuid.UUID, variant_id: uuid.UUID, vendor: ActiveVendor, db: SessionDep
) -> Response:
    await service.delete_variant(db, vendor, product_id, variant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@product_router.get(
    "/{product_id}/price-history",
    response_model=Page[PriceChangeOut],
    summary="Every price the product's variants have had, newest first",
    responses=errors(*OPTIONAL_VENDOR_ERRORS, ProductNotFound, InvalidRequest),
)
async def price_history(
    product_id: uuid.UUID,
    viewer: OptionalVendor,
    db: SessionDep,
    paging: Annotated[PageParams, Depends(pagination())],
) -> Page[PriceChangeOut]:
    return await service.price_history(db, product_id, viewer, paging)


_IMAGE_BODY = multipart_openapi(
    alt_text={"type": "string", "maxLength": images.ALT_TEXT_MAX_CHARS},
    position={"type": "integer", "minimum": 0, "maximum": images.MAX_POSITION},
)


@product_router.post(
    "/{product_id}/images",
    status_code=status.HTTP_201_CREATED,
    response_model=ProductImageOut,
    summary="Add an image to one of your products; its sizes are rendered in the background",
    description="Multipart form: `file` (required; JPEG, PNG, WebP, GIF, TIFF, AVIF, HEIC), "
    "`alt_text`, `position` (default: after the others). The answer says `pending` until the "
    "listing, detail and thumbnail sizes exist; the product answers carry their URLs then.",
    openapi_extra=_IMAGE_BODY,
    responses=errors(
        *ACTIVE_VENDOR_ERRORS,
        ProductNotFound,
        TooManyImages,
        NotAnImage,
        MalformedUpload,
        UploadTooLarge,
        NotMultipart,
        InvalidUpload,
        EmptyFile,
        InvalidRequest,
    ),
)
async def add_image(
    product_id: uuid.UUID,
    request: Request,
    vendor: ActiveVendor,
    db: SessionDep,
    runtime: RuntimeDep,
) -> ProductImageOut:
    body = MultipartUpload(
        request.stream(),
        request.headers.get("content-type"),
        max_file_bytes=runtime.settings.section(CatalogSettings).product_image_max_bytes,
        field_limits=images.FIELD_LIMITS,
    )
    return await images.upload(db, vendor, product_id, body)


@product_router.patch(
    "/{product_id}/images/{image_id}",
    response_model=ProductImageOut,
    summary="Move an image (position) or change its alt text",
    responses=errors(*ACTIVE_VENDOR_ERRORS, ImageNotFound, InvalidRequest),
)
async def update_image(
    product_id: uuid.UUID,
    image_id: uuid.UUID,
    data: ProductImageUpdate,
    vendor: ActiveVendor,
    db: SessionDep,
) -> ProductImageOut:
    return await images.update(db, vendor, product_id, image_id, data)


@product_router.delete(
    "/{product_id}/images/{image_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete an image of one of your products (and its stored sizes)",
    responses=errors(*ACTIVE_VENDOR_ERRORS, ImageNotFound, InvalidRequest),
)
async def delete_image(
    product_id: uuid.UUID, image_id: uuid.UUID, vendor: ActiveVendor, db: SessionDep
) -> Response:
    await images.delete(db, vendor, product_id, image_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
