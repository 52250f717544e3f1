"""Connecting a store to AliExpress: the authorize URL with a signed state, the callback that
stores the tokens sealed, and the connection's state as a vendor sees it.

The ``state`` is ``<vendor>.<user>.<expiry>.<nonce>.<mac>``, the MAC a keyed digest under Oja's
secret key: the callback needs no session and no stored row, and a state made for one store can
never connect another. Services never commit.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing.providers.port import ProviderCallError
from oja.identity.digests import keyed_digest, same_digest, seal, unseal
from oja.marketplace.aliexpress import repository
from oja.marketplace.aliexpress.models import AliExpressConnection
from oja.marketplace.aliexpress.schemas import (
    ConnectionOut,
    ListingOut,
    OptionOut,
    SearchOut,
    ShippingOut,
    SourceProductOut,
    VariantOut,
)
from oja.marketplace.errors import (
    AliExpressConnectionExpired,
    AliExpressNotConfigured,
    AliExpressNotConnected,
    AliExpressProductGone,
    AliExpressRefused,
    AliExpressStateInvalid,
)
from oja.marketplace.sources.aliexpress.client import AliExpressClient
from oja.marketplace.sources.aliexpress.config import AliExpressSettings
from oja.marketplace.sources.port import (
    SearchQuery,
    ShippingOption,
    SourceAuthorizationExpired,
    SourceProductGone,
)

T = TypeVar("T")
STATE_TTL = timedelta(minutes=10)
STATE_LABEL = "marketplace.aliexpress.state"
TOKEN_LABEL = "marketplace.aliexpress.token"  # noqa: S105 (a key-derivation label)
CALLBACK_PATH = "/integrations/aliexpress/callback"


def require_configured(settings: AliExpressSettings) -> tuple[str, str]:
    if not settings.aliexpress_app_key or not settings.aliexpress_app_secret:
        raise AliExpressNotConfigured(
            "AliExpress import is not configured on this server.",
            feature="aliexpress",
            settings=["OJA_ALIEXPRESS_APP_KEY", "OJA_ALIEXPRESS_APP_SECRET"],
        )
    return settings.aliexpress_app_key, settings.aliexpress_app_secret


def client_for(settings: AliExpressSettings) -> AliExpressClient:
    app_key, app_secret = require_configured(settings)
    return AliExpressClient(
        base_url=settings.aliexpress_base_url,
        app_key=app_key,
        app_secret=app_secret,
        ship_to_country=settings.aliexpress_ship_to_country,
        target_currency=settings.aliexpress_target_currency,
        target_language=settings.aliexpress_target_language,
    )


def authorize_url(
    settings: AliExpressSettings,
    *,
    secret: str,
    public_url: str,
    vendor_id: uuid.UUID,
    user_id: uuid.UUID,
    now: datetime,
) -> str:
    app_key, _ = require_configured(settings)
    expires = int((now + STATE_TTL).timestamp())
    payload = f"{vendor_id}.{user_id}.{expires}.{secrets.token_urlsafe(9)}"
    state = f"{payload}.{keyed_digest(secret, STATE_LABEL, payload)}"
    query = urlencode(
        {
            "response_type": "code",
            "force_auth": "true",
            "client_id": app_key,
            "redirect_uri": public_url.rstrip("/") + CALLBACK_PATH,
            "state": state,
        }
    )
    return f"{settings.aliexpress_authorize_url}?{query}"


def read_state(state: str, *, secret: str, now: datetime) -> uuid.UUID:
    """The store a state was signed for; :class:`AliExpressStateInvalid` otherwise."""
    payload, _, mac = state.rpartition(".")
    parts = payload.split(".")
    if len(parts) != 4 or not same_digest(mac, keyed_digest(secret, STATE_LABEL, payload)):
        raise AliExpressStateInvalid("This AliExpress connection link is not one Oja made.")
    if int(parts[2]) < now.timestamp():
        raise AliExpressStateInvalid("This AliExpress connection link has expired; start again.")
    return uuid.UUID(parts[0])


async def complete(
    db: AsyncSession,
    client: AliExpressClient,
    *,
    secret: str,
    code: str,
    state: str,
    now: datetime,
) -> AliExpressConnection:
    """Trade the callback's code for tokens and store them sealed (a reconnect replaces them)."""
    vendor_id = read_state(state, secret=secret, now=now)
    try:
        token = await client.create_token(code)
    except ProviderCallError as exc:
        raise AliExpressRefused(
            "AliExpress did not accept the connection; start again.",
            details={"provider_code": exc.provider_code, "message": exc.message},
        ) from exc
    connection = await repository.for_vendor(db, vendor_id)
    if connection is None:
        connection = AliExpressConnection(vendor_id=vendor_id)
        db.add(connection)
    connection.account_id = token.account_id
    connection.account_name = token.account_name
    connection.access_token_sealed = seal(secret, TOKEN_LABEL, token.access_token)
    connection.refresh_token_sealed = seal(secret, TOKEN_LABEL, token.refresh_token)
    connection.access_expires_at = token.access_expires_at
    connection.refresh_expires_at = token.refresh_expires_at
    await db.flush()
    return connection


def _expired(connection: AliExpressConnection, now: datetime) -> bool:
    refreshable = connection.refresh_expires_at is not None and connection.refresh_expires_at > now
    return connection.access_expires_at <= now and not refreshable


async def describe(db: AsyncSession, vendor_id: uuid.UUID, *, now: datetime) -> ConnectionOut:
    connection = await repository.for_vendor(db, vendor_id)
    if connection is None:
        return ConnectionOut(status="not_connected")
    return ConnectionOut(
        status="expired" if _expired(connection, now) else "connected",
        account_id=connection.account_id,
        account_name=connection.account_name,
        access_expires_at=connection.access_expires_at,
        refresh_expires_at=connection.refresh_expires_at,
    )


async def access_token(
    db: AsyncSession, vendor_id: uuid.UUID, *, secret: str, now: datetime
) -> str:
    """The store's live access token, or a clear error saying why there is none."""
    connection = await repository.for_vendor(db, vendor_id)
    if connection is None:
        raise AliExpressNotConnected("Connect an AliExpress account first.")
    if connection.access_expires_at <= now:
        raise AliExpressConnectionExpired(
            "The AliExpress connection has expired: reconnect the account.",
            details={"expired_at": connection.access_expires_at.astimezone(UTC).isoformat()},
        )
    return unseal(secret, TOKEN_LABEL, connection.access_token_sealed)


def expired_error(exc: SourceAuthorizationExpired) -> AliExpressConnectionExpired:
    """AliExpress refused a token Oja still thought live (revoked): the same clear error."""
    return AliExpressConnectionExpired(
        "AliExpress no longer accepts this store's connection: reconnect the account.",
        details={"provider_code": exc.provider_code},
    )


async def _call_source(call: Awaitable[T]) -> T:
    """A source call for a vendor route: a lapsed or revoked token and any refusal said clearly."""
    try:
        return await call
    except SourceAuthorizationExpired as exc:
        raise expired_error(exc) from exc
    except SourceProductGone as exc:
        raise AliExpressProductGone("AliExpress no longer offers this product.") from exc
    except ProviderCallError as exc:
        raise AliExpressRefused(
            "AliExpress did not answer the request; try again later.",
            details={"provider_code": exc.provider_code, "message": exc.message},
        ) from exc


async def search(client: AliExpressClient, token: str, query: SearchQuery) -> SearchOut:
    page = await _call_source(client.search(query, access_token=token))
    return SearchOut(
        items=[
            ListingOut(
                ae_id=i.source_id,
                title=i.title,
                image_url=i.image_url,
                url=i.url,
                price=i.price,
                currency=i.currency,
                category_id=i.category_id,
            )
            for i in page.items
        ],
        page=page.page,
        per_page=page.per_page,
        total=page.total,
    )


async def detail(client: AliExpressClient, token: str, ae_id: str) -> SourceProductOut:
    product = await _call_source(client.product(ae_id, access_token=token))
    shipping: list[ShippingOption] = []
    if product.variants:
        try:
            shipping = list(
                await _call_source(
                    client.shipping(
                        ae_id,
                        product.variants[0].sku_id,
                        country=client.ship_to_country,
                        access_token=token,
                    )
                )
            )
        except AliExpressProductGone:
            shipping = []
    return SourceProductOut(
        ae_id=product.source_id,
        title=product.title,
        description=product.description,
        url=product.url,
        category_id=product.category_id,
        images=list(product.images),
        variants=[
            VariantOut(
                sku_id=v.sku_id,
                options=[
                    OptionOut(name=o.name, value=o.value, image_url=o.image_url) for o in v.options
                ],
                price=v.price,
                currency=v.currency,
                stock=v.stock,
                image_url=v.image_url,
            )
            for v in product.variants
        ],
        shipping=[
            ShippingOut(
                service=s.service,
                fee=s.fee,
                currency=s.currency,
                min_days=s.min_days,
                max_days=s.max_days,
            )
            for s in shipping
        ],
    )
