"""AliExpress routes: start the OAuth connect, its callback (public: AliExpress sends the browser
back with no Oja session), the store's connection state, search and detail, imports (followed at
the bulk import's `GET /vendors/me/imports/{id}`), and the category maps (the store's and the
operator's default)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, status

from oja.core.dependencies import RuntimeDep, SessionDep
from oja.core.errors import InvalidRequest, errors
from oja.identity.dependencies import USER_ERRORS, ClockDep, RequireRole
from oja.marketplace.aliexpress import categories, imports, service
from oja.marketplace.aliexpress.schemas import (
    AliExpressImportIn,
    AuthorizeUrlOut,
    CategoryMapIn,
    CategoryMapOut,
    ConnectionOut,
    SearchOut,
    SourceProductOut,
)
from oja.marketplace.errors import (
    AliExpressConnectionExpired,
    AliExpressNotConfigured,
    AliExpressNotConnected,
    AliExpressProductGone,
    AliExpressRefused,
    AliExpressStateInvalid,
    ImportKeyReused,
)
from oja.marketplace.imports import service as imports_service
from oja.marketplace.imports.schemas import ImportOut
from oja.marketplace.sources.aliexpress.client import AliExpressClient
from oja.marketplace.sources.aliexpress.config import AliExpressSettings
from oja.marketplace.sources.port import SearchQuery
from oja.marketplace.vendors.dependencies import (
    ACTIVE_VENDOR_ERRORS,
    VENDOR_ERRORS,
    ActiveVendor,
    CurrentVendor,
)

router = APIRouter(tags=["marketplace: aliexpress"])
admin_router = APIRouter(
    prefix="/admin/aliexpress", tags=["marketplace: admin"], dependencies=[RequireRole("admin")]
)


async def get_aliexpress_settings(runtime: RuntimeDep) -> AliExpressSettings:
    return runtime.settings.section(AliExpressSettings)


AliExpressSettingsDep = Annotated[AliExpressSettings, Depends(get_aliexpress_settings)]


async def get_aliexpress_client(
    settings: AliExpressSettingsDep,
) -> AsyncIterator[AliExpressClient]:
    async with service.client_for(settings) as client:
        yield client


AliExpressClientDep = Annotated[AliExpressClient, Depends(get_aliexpress_client)]


@router.get(
    "/integrations/aliexpress/connect",
    response_model=AuthorizeUrlOut,
    summary="Start connecting your store's AliExpress account",
    description="Answers the AliExpress consent URL to send the browser to; its signed `state` "
    "names your store and is valid for ten minutes. AliExpress then returns the browser to "
    "`/integrations/aliexpress/callback`.",
    responses=errors(*ACTIVE_VENDOR_ERRORS, AliExpressNotConfigured),
)
async def connect(
    ctx: ActiveVendor,
    runtime: RuntimeDep,
    settings: AliExpressSettingsDep,
    clock: ClockDep,
) -> AuthorizeUrlOut:
    url = service.authorize_url(
        settings,
        secret=runtime.settings.secret_key,
        public_url=runtime.settings.app.public_url,
        vendor_id=ctx.vendor_id,
        user_id=ctx.user_id,
        now=clock(),
    )
    return AuthorizeUrlOut(authorize_url=url, expires_in=int(service.STATE_TTL.total_seconds()))


@router.get(
    "/integrations/aliexpress/callback",
    response_model=ConnectionOut,
    summary="Finish connecting an AliExpress account (public: AliExpress redirects here)",
    description="Trades the one-time `code` for the account's tokens and stores them encrypted "
    "for the store the signed `state` names. 400 for a state Oja did not sign or older than ten "
    "minutes; 502 when AliExpress refuses the code.",
    responses=errors(AliExpressStateInvalid, AliExpressRefused, AliExpressNotConfigured),
)
async def callback(
    *,
    db: SessionDep,
    runtime: RuntimeDep,
    client: AliExpressClientDep,
    clock: ClockDep,
    code: Annotated[str, Query(min_length=1, max_length=512)],
    state: Annotated[str, Query(min_length=1, max_length=512)],
) -> ConnectionOut:
    now = clock()
    connection = await service.complete(
        db, client, secret=runtime.settings.secret_key, code=code, state=state, now=now
    )
    return await service.describe(db, connection.vendor_id, now=now)


@router.get(
    "/vendors/me/aliexpress/connection",
    response_model=ConnectionOut,
    summary="Your store's AliExpress connection: connected, expired or not connected",
    responses=errors(*VENDOR_ERRORS),
)
async def connection(ctx: CurrentVendor, db: SessionDep, clock: ClockDep) -> ConnectionOut:
    return await service.describe(db, ctx.vendor_id, now=clock())


SOURCE_ERRORS = (
    *VENDOR_ERRORS,
    AliExpressNotConfigured,
    AliExpressNotConnected,
    AliExpressConnectionExpired,
    AliExpressRefused,
)


@router.get(
    "/vendors/me/aliexpress/search",
    response_model=SearchOut,
    summary="Search AliExpress with your store's connected account",
    description="`q` words, `category` (an AliExpress category id), `sort` (`price_asc`, "
    "`price_desc`, `orders`, `reviews`), `page` (20 a page). Prices in minor units of the "
    "configured target currency. 409 `aliexpress_connection_expired` when the connection lapsed.",
    responses=errors(*SOURCE_ERRORS),
)
async def search(
    *,
    ctx: CurrentVendor,
    db: SessionDep,
    runtime: RuntimeDep,
    client: AliExpressClientDep,
    clock: ClockDep,
    q: Annotated[str, Query(max_length=200)] = "",
    category: Annotated[str | None, Query(max_length=32, pattern=r"^\d+$")] = None,
    sort: Annotated[str | None, Query(pattern="^(price_asc|price_desc|orders|reviews)$")] = None,
    page: Annotated[int, Query(ge=1, le=100)] = 1,
) -> SearchOut:
    token = await service.access_token(
        db, ctx.vendor_id, secret=runtime.settings.secret_key, now=clock()
    )
    query = SearchQuery(text=q, category_id=category, sort=sort, page=page)
    return await service.search(client, token, query)


@router.get(
    "/vendors/me/aliexpress/products/{ae_id}",
    response_model=SourceProductOut,
    summary="An AliExpress product's detail: variants with price and stock, images, shipping",
    responses=errors(*SOURCE_ERRORS, AliExpressProductGone),
)
async def product(
    *,
    ctx: CurrentVendor,
    db: SessionDep,
    runtime: RuntimeDep,
    client: AliExpressClientDep,
    clock: ClockDep,
    ae_id: Annotated[str, Path(max_length=32, pattern=r"^\d+$")],
) -> SourceProductOut:
    token = await service.access_token(
        db, ctx.vendor_id, secret=runtime.settings.secret_key, now=clock()
    )
    found = await service.detail(client, token, ae_id)
    found.imported_product_id = await imports.imported_product(db, ctx.vendor_id, ae_id)
    return found


@router.post(
    "/vendors/me/aliexpress/imports",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ImportOut,
    summary="Import AliExpress products into your store (applied in the background)",
    description="Each product by id, or as an object with its own `category_id`, `price_rule`, "
    "`status` and `sku_ids` (the variants to include; default all). The price of a variant is its "
    "AliExpress cost converted to the rule's `currency` (OJA_ALIEXPRESS_CURRENCY_RATES), times "
    "`multiplier`, plus `markup` (minor units), raised to the next price `ending`. New products "
    "are `draft` unless `status` says otherwise; a product imported before is updated, never "
    "duplicated. Follow it at `GET /vendors/me/imports/{id}` (one row a product). 409 when the "
    "store's AliExpress connection is missing or expired; nothing is imported then.",
    responses=errors(*SOURCE_ERRORS, *ACTIVE_VENDOR_ERRORS, InvalidRequest, ImportKeyReused),
)
async def import_products(
    body: AliExpressImportIn,
    ctx: ActiveVendor,
    db: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> ImportOut:
    record = await imports.create(db, runtime, ctx, body, idempotency_key=idempotency_key)
    return imports_service.import_out(record)


@router.get(
    "/vendors/me/aliexpress/category-map",
    response_model=CategoryMapOut,
    summary="Your AliExpress category map, and the imported categories no map covers",
    responses=errors(*VENDOR_ERRORS),
)
async def category_map(ctx: CurrentVendor, db: SessionDep) -> CategoryMapOut:
    return await categories.vendor_map(db, ctx.vendor_id)


@router.put(
    "/vendors/me/aliexpress/category-map",
    response_model=CategoryMapOut,
    summary="Replace your AliExpress category map",
    description="The whole map: a mapping it does not list is removed. It wins over the "
    "operator's default map for your imports and syncs.",
    responses=errors(*ACTIVE_VENDOR_ERRORS, InvalidRequest),
)
async def replace_category_map(
    body: CategoryMapIn, ctx: ActiveVendor, db: SessionDep
) -> CategoryMapOut:
    return await categories.replace_vendor_map(db, ctx.vendor_id, body)


@admin_router.get(
    "/category-map",
    response_model=CategoryMapOut,
    summary="The default AliExpress category map, used where a store maps nothing (admin)",
    responses=errors(*USER_ERRORS),
)
async def default_category_map(db: SessionDep) -> CategoryMapOut:
    return await categories.default_map(db)


@admin_router.put(
    "/category-map",
    response_model=CategoryMapOut,
    summary="Replace the default AliExpress category map (admin)",
    responses=errors(*USER_ERRORS, InvalidRequest),
)
async def replace_default_category_map(body: CategoryMapIn, db: SessionDep) -> CategoryMapOut:
    return await categories.replace_default_map(db, body)
