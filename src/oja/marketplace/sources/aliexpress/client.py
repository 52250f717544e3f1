"""The AliExpress adapter of :class:`~oja.marketplace.sources.port.ProductSource`: a thin signed
httpx client over the Open Platform gateway (the popular SDK has no dropshipping support).

Every call is a POST with its parameters in the query string, signed by
:func:`~oja.marketplace.sources.aliexpress.signing.sign`; answers go through
:func:`~oja.marketplace.sources.aliexpress.envelope.unwrap`, whatever their shape. Transport failures
and 429/5xx are classified by the shared provider edge (:mod:`oja.billing.providers.http`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from oja.billing.providers.http import send
from oja.billing.providers.port import ProviderCallRefused
from oja.core.http import Closing, create_http_client
from oja.marketplace.sources.aliexpress import envelope
from oja.marketplace.sources.aliexpress.signing import SignMethod, sign
from oja.marketplace.sources.port import (
    SearchPage,
    SearchQuery,
    ShippingOption,
    SourceCategory,
    SourceProduct,
    SourceToken,
)

PARTNER_ID = "oja"
SORTS = {
    "price_asc": "min_price,asc",
    "price_desc": "min_price,desc",
    "orders": "orders,desc",
    "reviews": "comments,desc",
}
"""Oja's sort words → ``aliexpress.ds.text.search``'s ``sortBy``."""


class AliExpressClient(Closing):
    """``async with AliExpressClient(base_url=…, app_key=…, app_secret=…) as ae: await ae.product(…)``.

    ``simplify`` asks for the flat answer shape (both are read either way); ``clock`` returns epoch
    milliseconds (tests pin it to reproduce signatures).
    """

    name = envelope.PROVIDER

    def __init__(
        self,
        *,
        base_url: str,
        app_key: str,
        app_secret: str,
        ship_to_country: str = "NG",
        target_currency: str = "USD",
        target_language: str = "en",
        sign_method: SignMethod = "sha256",
        simplify: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.app_key = app_key
        self._secret = app_secret
        self.ship_to_country = ship_to_country.upper()
        self.target_currency = target_currency.upper()
        self.target_language = target_language
        self._sign_method: SignMethod = sign_method
        self._simplify = simplify
        self._clock = clock or (lambda: int(time.time() * 1000))
        self._http = create_http_client(
            base_url=base_url.rstrip("/"), transport=transport, timeout=timeout
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def signed(
        self, api: str, params: Mapping[str, Any], *, access_token: str | None = None
    ) -> dict[str, str]:
        """The complete query of one call: system parameters, ``params``, and ``sign``."""
        query = {
            "app_key": self.app_key,
            "sign_method": self._sign_method,
            "timestamp": str(self._clock()),
            "partner_id": PARTNER_ID,
            "format": "json",
        }
        if "/" not in api:
            query["method"] = api
            query["simplify"] = "true" if self._simplify else "false"
        if access_token is not None:
            query["session"] = access_token
        query.update({k: _text(v) for k, v in params.items() if v is not None})
        query["sign"] = sign(self._secret, query, api_path=api, method=self._sign_method)
        return query

    async def call(
        self, api: str, params: Mapping[str, Any], *, access_token: str | None = None
    ) -> dict[str, Any]:
        """One signed call, its answer unwrapped (``api`` is a dotted method or a ``/rest`` path)."""
        path = f"/rest{api}" if "/" in api else "/sync"
        status, body = await send(
            self._http,
            "POST",
            path,
            provider=self.name,
            label="AliExpress",
            params=self.signed(api, params, access_token=access_token),
        )
        if status >= 400 and "code" not in body:
            raise ProviderCallRefused(
                f"AliExpress answered {status}.", provider=self.name, status_code=status
            )
        return envelope.unwrap(api, body)

    # OAuth

    async def create_token(self, code: str) -> SourceToken:
        return _token(await self.call("/auth/token/create", {"code": code}))

    async def refresh_token(self, refresh_token: str) -> SourceToken:
        return _token(await self.call("/auth/token/refresh", {"refresh_token": refresh_token}))

    # ProductSource

    async def search(self, query: SearchQuery, *, access_token: str) -> SearchPage:
        answer = await self.call(
            "aliexpress.ds.text.search",
            {
                "keyWord": query.text or None,
                "local": _locale(self.target_language),
                "countryCode": self.ship_to_country,
                "currency": self.target_currency,
                "categoryId": query.category_id,
                "sortBy": SORTS.get(query.sort or ""),
                "pageSize": min(query.per_page, 50),
                "pageIndex": query.page,
                **query.extra,
            },
            access_token=access_token,
        )
        return envelope.search_page(answer, currency=self.target_currency)

    async def product(self, source_id: str, *, access_token: str) -> SourceProduct:
        answer = await self.call(
            "aliexpress.ds.product.get",
            {
                "product_id": source_id,
                "ship_to_country": self.ship_to_country,
                "target_currency": self.target_currency,
                "target_language": self.target_language,
                "remove_personal_benefit": "true",
            },
            access_token=access_token,
        )
        return envelope.product(answer, currency=self.target_currency)

    async def categories(self, *, access_token: str) -> Sequence[SourceCategory]:
        answer = await self.call(
            "aliexpress.ds.category.get",
            {"language": self.target_language},
            access_token=access_token,
        )
        return envelope.categories(answer)

    async def shipping(
        self, source_id: str, sku_id: str, *, country: str, access_token: str
    ) -> Sequence[ShippingOption]:
        request = {
            "quantity": 1,
            "shipToCountry": country.upper(),
            "productId": source_id,
            "selectedSkuId": sku_id,
            "language": self.target_language,
            "currency": self.target_currency,
            "locale": _locale(self.target_language),
        }
        answer = await self.call(
            "aliexpress.ds.freight.query",
            {"queryDeliveryReq": json.dumps(request, separators=(",", ":"))},
            access_token=access_token,
        )
        return envelope.shipping(answer)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _locale(language: str) -> str:
    return (
        language
        if "_" in language
        else f"{language}_{'US' if language == 'en' else language.upper()}"
    )


def _token(body: dict[str, Any]) -> SourceToken:
    """A token answer: lifetimes read from every answer, never assumed (test apps: 1 and 2 days)."""
    if not body.get("access_token"):
        raise ProviderCallRefused("AliExpress gave no access token.", provider=envelope.PROVIDER)
    now = datetime.now(UTC)
    refresh_in = int(str(body.get("refresh_expires_in") or 0))
    return SourceToken(
        access_token=str(body["access_token"]),
        refresh_token=str(body.get("refresh_token") or ""),
        access_expires_at=now + timedelta(seconds=int(str(body.get("expires_in") or 0))),
        refresh_expires_at=now + timedelta(seconds=refresh_in) if refresh_in > 0 else None,
        account_id=str(body.get("user_id") or body.get("havana_id") or ""),
        account_name=str(body["user_nick"]) if body.get("user_nick") else None,
    )
