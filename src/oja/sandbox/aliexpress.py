"""An AliExpress Open Platform gateway fake, from marketplace-apis.md §3 (and §8's minimum surface).

- ``GET /oauth/authorize`` redirects to ``redirect_uri?code=…&state=…`` (the consent is implied);
  ``POST /rest/auth/token/create`` (``code``) and ``/rest/auth/token/refresh`` (``refresh_token``)
  answer the documented token shape. Lifetimes are the test-status app's (access 1 day, refresh 2
  days) unless set; a refresh renews the access token's lifetime, never the refresh token's.
- ``POST /sync`` (``method=``) serves ``aliexpress.ds.product.get``, ``.text.search``,
  ``.category.get`` and ``.freight.query`` from a small generated catalogue (categories two levels
  deep, products with Color/Size variants, priced and stocked SKUs, images it serves itself at
  ``/img/…``). ``simplify=true`` answers the flat shape, otherwise the wrapped one
  (``aliexpress_ds_*_response`` with ``*_d_t_o`` array wrappers).
- Every call is checked as the gateway does: ``app_key`` (``InvalidAppKey``), ``sign_method``
  ``sha256`` (HMAC of the sorted parameters, a system API's path first) or legacy ``md5``
  (``secret + string + secret``), compared exactly (``IncompleteSignature``); ``timestamp`` in epoch
  ms or ``yyyy-MM-dd HH:mm:ss`` UTC within 7,200 s (``InvalidTimestamp``); DS methods need the token
  as ``session`` or ``access_token`` (``IllegalAccessToken`` when unknown or expired).
- Throttling: ``calls_per_second`` (a budget over the last second) and :meth:`AliExpressFake.throttle_next`
  answer ``ApiCallLimit``. ``latency`` delays every answer.

Knobs for sync tests: :meth:`~AliExpressFake.set_price`, :meth:`~AliExpressFake.set_stock`,
:meth:`~AliExpressFake.remove`, :meth:`~AliExpressFake.stop_shipping_to`,
:meth:`~AliExpressFake.advance` (moves the token clock), :meth:`~AliExpressFake.expire_tokens`.
Invented where the sources are silent (marked so): removed products answer ``rsp_code`` 605, a
product not shipped to the asked country 604, and ``aliexpress.ds.category.get`` answers the
affiliate category shape.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from oja.sandbox.base import Failure, ScriptedFailures, fake_app

DEFAULT_APP_KEY = "500100"
DEFAULT_APP_SECRET = "oja-sandbox-aliexpress-app-secret"  # noqa: S105 (a fake's public test value)
TEST_ACCESS_TTL = 86_400
TEST_REFRESH_TTL = 172_800
MAX_SKEW = 7_200
FIRST_PRODUCT_ID = 1005000000000001
COLORS = ("Black", "White", "Red", "Blue", "Green", "Pink")
SIZES = ("S", "M", "L", "XL")
COLOR_PROPERTY, SIZE_PROPERTY = "14", "5"
CATEGORIES = (
    ("200000001", "Home & Garden", None),
    ("200000002", "Kitchen", "200000001"),
    ("200000003", "Lighting", "200000001"),
    ("200000004", "Apparel", None),
    ("200000005", "T-Shirts", "200000004"),
    ("200000006", "Bags", "200000004"),
)
DS_METHODS = frozenset(
    {
        "aliexpress.ds.product.get",
        "aliexpress.ds.text.search",
        "aliexpress.ds.category.get",
        "aliexpress.ds.freight.query",
    }
)


@dataclass
class FakeSku:
    sku_id: str
    options: list[tuple[str, str, str, str, str | None]]
    """(property id, property name, value id, label, image path)."""
    price: Decimal
    stock: int

    @property
    def sku_attr(self) -> str:
        return ";".join(f"{p}:{v}#{label}" for p, _, v, label, _ in self.options)


@dataclass
class FakeProduct:
    product_id: str
    title: str
    category_id: str
    images: list[str]
    skus: list[FakeSku]
    removed: bool = False
    not_shipped_to: set[str] = field(default_factory=set)


@dataclass
class Token:
    access_token: str
    refresh_token: str
    user_id: str
    access_expires_at: float
    refresh_expires_at: float


@dataclass(frozen=True, slots=True)
class Call:
    api: str
    outcome: str
    """``ok`` or the error code answered."""


class FakeError(Exception):
    def __init__(self, code: str, message: str, kind: str = "ISV") -> None:
        super().__init__(message)
        self.code, self.message, self.kind = code, message, kind


def _sign(secret: str, params: dict[str, str], api_path: str, method: str) -> str:
    joined = "".join(k + params[k] for k in sorted(params) if k != "sign")
    if method == "md5":
        return (
            hashlib.md5((secret + joined + secret).encode(), usedforsecurity=False)
            .hexdigest()
            .upper()
        )
    joined = api_path + joined if api_path.startswith("/") else joined
    return hmac.new(secret.encode(), joined.encode(), hashlib.sha256).hexdigest().upper()


def generate_catalogue(count: int, variants: int, images: int) -> dict[str, FakeProduct]:
    """``count`` products, ``variants`` SKUs and ``images`` pictures each, the same every time."""
    leaves = [c for c in CATEGORIES if c[2] is not None]
    products: dict[str, FakeProduct] = {}
    colors = max(1, min(variants, 3))
    for i in range(count):
        pid = str(FIRST_PRODUCT_ID + i)
        category = leaves[i % len(leaves)]
        skus = []
        for k in range(max(variants, 1)):
            options: list[tuple[str, str, str, str, str | None]] = []
            if variants > 1:
                color = COLORS[k % colors]
                options.append(
                    (
                        COLOR_PROPERTY,
                        "Color",
                        str(1000 + k % colors),
                        color,
                        f"/img/{pid}/c{k % colors}.jpg",
                    )
                )
                options.append(
                    (SIZE_PROPERTY, "Size", str(2000 + k // colors), SIZES[k // colors % 4], None)
                )
            price = Decimal(3 + i % 20) + Decimal("0.99") + Decimal("0.50") * k
            skus.append(FakeSku(f"{pid}{k:02d}", options, price, 100 + (i + k) % 50))
        products[pid] = FakeProduct(
            pid,
            f"{category[1]} item {i + 1}",
            category[0],
            [f"/img/{pid}/{n}.jpg" for n in range(images)],
            skus,
        )
    return products


class AliExpressFake(ScriptedFailures[Call]):
    """State and knobs of the fake; ``app`` is the ASGI app to serve."""

    def __init__(
        self,
        *,
        app_key: str = DEFAULT_APP_KEY,
        app_secret: str = DEFAULT_APP_SECRET,
        products: int = 60,
        variants: int = 4,
        images: int = 3,
        access_ttl: int = TEST_ACCESS_TTL,
        refresh_ttl: int = TEST_REFRESH_TTL,
        calls_per_second: float | None = None,
        latency: float = 0.0,
    ) -> None:
        super().__init__(app_key, latency=latency)
        self.app_key = app_key
        self.app_secret = app_secret
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.calls_per_second = calls_per_second
        self.force_shape: str | None = None
        """``"wrapped"`` or ``"simplified"`` whatever ``simplify`` says; None obeys it."""
        self.products = generate_catalogue(products, variants, images)
        self.tokens: dict[str, Token] = {}
        self._codes: dict[str, str] = {}
        self._offset = 0.0
        self._recent: deque[float] = deque()
        self.app = self._build_app()

    # knobs

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock tokens expire by (not the one timestamps are checked against)."""
        self._offset += seconds

    def expire_tokens(self) -> None:
        with self._lock:
            for token in self.tokens.values():
                token.access_expires_at = self.now() - 1

    def throttle_next(self, count: int = 1) -> None:
        """The next ``count`` signed calls answer ``ApiCallLimit``."""
        self._fail_next(count, Failure(429))

    def issue_code(self, user_id: str = "2200000001") -> str:
        """An authorization code as the consent page would give (tests without a browser)."""
        code = f"3_{self.app_key}_{secrets.token_urlsafe(12)}"
        with self._lock:
            self._codes[code] = user_id
        return code

    def set_price(self, product_id: str, price: str, sku_id: str | None = None) -> None:
        for sku in self.products[product_id].skus:
            if sku_id is None or sku.sku_id == sku_id:
                sku.price = Decimal(price)

    def set_stock(self, product_id: str, stock: int, sku_id: str | None = None) -> None:
        for sku in self.products[product_id].skus:
            if sku_id is None or sku.sku_id == sku_id:
                sku.stock = stock

    def remove(self, product_id: str) -> None:
        self.products[product_id].removed = True

    def stop_shipping_to(self, product_id: str, country: str) -> None:
        self.products[product_id].not_shipped_to.add(country.upper())

    def api_calls(self, api: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if api is None or c.api == api]

    def _reset_more(self) -> None:
        self._recent.clear()

    # the gate

    def _admit(self, api: str, params: dict[str, str]) -> str | None:
        """Check one call; the token's user id (DS methods) or None. Raises :class:`FakeError`."""
        if params.get("app_key") != self.app_key:
            raise FakeError("InvalidAppKey", "The specified App Key is invalid.")
        method = params.get("sign_method", "md5" if params.get("v") == "2.0" else "")
        if method not in {"sha256", "md5"}:
            raise FakeError("InvalidSignMethod", "Unsupported sign_method.")
        if not hmac.compare_digest(
            params.get("sign", ""), _sign(self.app_secret, params, api, method)
        ):
            raise FakeError(
                "IncompleteSignature",
                "The request signature does not conform to platform standards",
            )
        if not self._fresh(params.get("timestamp", "")):
            raise FakeError("InvalidTimestamp", "Timestamp is missing or out of the 7200 s window.")
        with self._lock:
            failure = self._next_failure()
            if failure is None and self.calls_per_second is not None:
                now = time.monotonic()
                while self._recent and now - self._recent[0] >= 1.0:
                    self._recent.popleft()
                if len(self._recent) >= self.calls_per_second:
                    failure = Failure(429)
                else:
                    self._recent.append(now)
        if failure is not None:
            if failure.status == 429:
                raise FakeError("ApiCallLimit", "The request has exceeded the call limit.", "ISP")
            raise FakeError("ServiceUnavailable", failure.message or "Service unavailable", "ISP")
        if api not in DS_METHODS:
            return None
        value = params.get("session") or params.get("access_token") or ""
        token = next((t for t in self.tokens.values() if t.access_token == value), None)
        if token is None or token.access_expires_at <= self.now():
            raise FakeError(
                "IllegalAccessToken", "The specified access token is invalid or expired"
            )
        return token.user_id

    def _fresh(self, stamp: str) -> bool:
        try:
            seconds = (
                int(stamp) / 1000
                if stamp.isdigit()
                else datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
            )
        except ValueError:
            return False
        return abs(time.time() - seconds) <= MAX_SKEW

    # token APIs

    def _token_answer(self, token: Token) -> dict[str, Any]:
        now = self.now()
        return {
            "code": "0",
            "request_id": secrets.token_hex(6),
            "access_token": token.access_token,
            "refresh_token": token.refresh_token,
            "expires_in": int(token.access_expires_at - now),
            "refresh_expires_in": max(int(token.refresh_expires_at - now), 0),
            "expire_time": int(token.access_expires_at * 1000),
            "refresh_token_valid_time": int(token.refresh_expires_at * 1000),
            "user_id": token.user_id,
            "seller_id": token.user_id,
            "havana_id": token.user_id,
            "user_nick": f"ds_buyer_{token.user_id[-4:]}",
            "account": f"buyer{token.user_id[-4:]}@example.com",
            "account_platform": "buyerApp",
            "locale": "en_US",
            "sp": "ae",
        }

    def _create(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            user_id = self._codes.pop(params.get("code", ""), None)
            if user_id is None:
                raise FakeError("InvalidCode", "The authorization code is invalid or used.")
            now = self.now()
            token = Token(
                secrets.token_hex(16),
                secrets.token_hex(16),
                user_id,
                now + self.access_ttl,
                now + self.refresh_ttl,
            )
            self.tokens[token.refresh_token] = token
        return self._token_answer(token)

    def _refresh(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            token = self.tokens.pop(params.get("refresh_token", ""), None)
            if token is None or token.refresh_expires_at <= self.now():
                raise FakeError("IllegalRefreshToken", "The refresh token is invalid or expired")
            token.access_token = secrets.token_hex(16)
            token.refresh_token = secrets.token_hex(16)
            token.access_expires_at = self.now() + self.access_ttl
            self.tokens[token.refresh_token] = token
        return self._token_answer(token)

    # DS APIs

    def _product_get(self, params: dict[str, str], base: str, wrapped: bool) -> dict[str, Any]:
        product = self.products.get(params.get("product_id", ""))
        country = params.get("ship_to_country", "").upper()
        currency = params.get("target_currency", "USD").upper()
        if not country:
            raise FakeError("MissingParameter", "ship_to_country is required")
        if product is None or product.removed:
            return {"rsp_code": "605", "rsp_msg": "product is not available"}
        if country in product.not_shipped_to:
            return {"rsp_code": "604", "rsp_msg": f"product does not ship to {country}"}
        skus = [
            {
                "sku_id": sku.sku_id,
                "id": sku.sku_attr,
                "sku_attr": sku.sku_attr,
                "sku_price": str(sku.price + 1),
                "offer_sale_price": str(sku.price),
                "sku_available_stock": sku.stock,
                "currency_code": currency,
                "ae_sku_property_dtos": _wrap(
                    wrapped,
                    "ae_sku_property_d_t_o",
                    [
                        {
                            "sku_property_id": int(p),
                            "sku_property_name": name,
                            "sku_property_value": label.lower(),
                            "property_value_id": int(v),
                            "property_value_definition_name": label,
                            **({"sku_image": base + image} if image else {}),
                        }
                        for p, name, v, label, image in sku.options
                    ],
                ),
            }
            for sku in product.skus
        ]
        return {
            "rsp_code": "200",
            "rsp_msg": "Call succeeds",
            "result": {
                "ae_item_base_info_dto": {
                    "product_id": int(product.product_id),
                    "subject": product.title,
                    "detail": f"<p>{product.title}, sandbox description.</p>",
                    "category_id": int(product.category_id),
                    "currency_code": "CNY",
                    "product_status_type": "onSelling",
                    "sales_count": "1000+",
                },
                "ae_item_sku_info_dtos": _wrap(wrapped, "ae_item_sku_info_d_t_o", skus),
                "ae_multimedia_info_dto": {
                    "image_urls": ";".join(base + image for image in product.images)
                },
                "logistics_info_dto": {"delivery_time": 12, "ship_to_country": country},
            },
        }

    def _search(self, params: dict[str, str], base: str, wrapped: bool) -> dict[str, Any]:
        words = params.get("keyWord", "").lower().split()
        category = params.get("categoryId")
        currency = params.get("currency", "USD").upper()
        hits = [
            p
            for p in self.products.values()
            if not p.removed
            and all(w in p.title.lower() for w in words)
            and (category is None or category in {p.category_id, _parent(p.category_id)})
        ]
        sort = params.get("sortBy", "")
        if sort.startswith("min_price"):
            hits.sort(key=lambda p: min(s.price for s in p.skus), reverse=sort.endswith("desc"))
        size = max(1, min(int(params.get("pageSize") or 20), 50))
        index = max(1, int(params.get("pageIndex") or 1))
        page = hits[(index - 1) * size : index * size]
        products = [
            {
                "itemId": p.product_id,
                "title": p.title,
                "itemMainPic": base + p.images[0] if p.images else None,
                "itemUrl": f"https://www.aliexpress.com/item/{p.product_id}.html",
                "targetSalePrice": str(min(s.price for s in p.skus)),
                "targetOriginalPriceCurrency": currency,
                "salePrice": str(min(s.price for s in p.skus)),
                "salePriceCurrency": currency,
                "cateId": p.category_id,
                "discount": "10%",
                "evaluateRate": "97.8%",
                "orders": "1000+",
            }
            for p in page
        ]
        return {
            "code": "0",
            "msg": "success",
            "data": {
                "pageIndex": index,
                "pageSize": size,
                "totalCount": len(hits),
                "products": _wrap(wrapped, "selection_search_product", products),
            },
        }

    def _categories(self, wrapped: bool) -> dict[str, Any]:
        rows = [
            {"category_id": c, "category_name": n, **({"parent_category_id": p} if p else {})}
            for c, n, p in CATEGORIES
        ]
        return {
            "resp_result": {
                "resp_code": 200,
                "resp_msg": "success",
                "result": {"categories": _wrap(wrapped, "category", rows)},
            }
        }

    def _freight(self, params: dict[str, str], wrapped: bool) -> dict[str, Any]:
        try:
            request = json.loads(params.get("queryDeliveryReq", ""))
        except ValueError as exc:
            raise FakeError("MissingParameter", "queryDeliveryReq must be JSON") from exc
        product = self.products.get(str(request.get("productId")))
        country = str(request.get("shipToCountry", "")).upper()
        if product is None or product.removed or country in product.not_shipped_to:
            return {
                "result": {
                    "success": False,
                    "code": "DELIVERY_NOT_AVAILABLE",
                    "msg": "No delivery to this country",
                }
            }
        options = [
            {
                "code": "CAINIAO_STANDARD",
                "shipping_fee_cent": "2.50",
                "shipping_fee_currency": request.get("currency", "USD"),
                "min_delivery_days": 10,
                "max_delivery_days": 20,
            },
            {
                "code": "AE_STANDARD_FREE",
                "shipping_fee_cent": "0.00",
                "shipping_fee_currency": request.get("currency", "USD"),
                "min_delivery_days": 15,
                "max_delivery_days": 30,
            },
        ]
        return {
            "result": {
                "success": True,
                "delivery_options": _wrap(wrapped, "delivery_option_d_t_o", options),
            }
        }

    def _dispatch(self, api: str, params: dict[str, str], base: str) -> dict[str, Any]:
        if api == "/auth/token/create":
            return self._create(params)
        if api == "/auth/token/refresh":
            return self._refresh(params)
        if api not in DS_METHODS:
            raise FakeError("InvalidApi", f"The API {api!r} does not exist.")
        wrapped = (
            self.force_shape == "wrapped"
            if self.force_shape
            else params.get("simplify", "false") != "true"
        )
        if api == "aliexpress.ds.product.get":
            answer = self._product_get(params, base, wrapped)
        elif api == "aliexpress.ds.text.search":
            answer = self._search(params, base, wrapped)
        elif api == "aliexpress.ds.category.get":
            answer = self._categories(wrapped)
        else:
            answer = self._freight(params, wrapped)
        request_id = secrets.token_hex(6)
        if wrapped:
            return {api.replace(".", "_") + "_response": {**answer, "request_id": request_id}}
        return {"code": "0", **answer, "request_id": request_id}

    async def _serve(self, request: Request, api: str | None) -> JSONResponse:
        params = dict(request.query_params.items())
        if request.method == "POST":
            form = await request.form()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        name = api or params.get("method", "")
        if self.latency:
            await asyncio.sleep(self.latency)
        try:
            self._admit(name, params)
            answer = self._dispatch(name, params, str(request.base_url).rstrip("/"))
        except FakeError as error:
            with self._lock:
                self.calls.append(Call(name, error.code))
            return JSONResponse(
                {
                    "type": error.kind,
                    "code": error.code,
                    "message": error.message,
                    "request_id": secrets.token_hex(6),
                }
            )
        with self._lock:
            self.calls.append(Call(name, "ok"))
        return JSONResponse(answer)

    def _build_app(self) -> FastAPI:
        app = fake_app("AliExpress Open Platform")

        @app.api_route("/sync", methods=["GET", "POST"])
        async def sync(request: Request) -> JSONResponse:
            return await self._serve(request, None)

        @app.post("/rest/auth/token/{action}")
        async def token(action: str, request: Request) -> JSONResponse:
            return await self._serve(request, f"/auth/token/{action}")

        @app.get("/oauth/authorize")
        async def authorize(request: Request) -> Response:
            query = request.query_params
            if query.get("client_id") != self.app_key or not query.get("redirect_uri"):
                return JSONResponse({"error": "invalid_client"}, status_code=400)
            answer = {"code": self.issue_code(), "state": query.get("state", "")}
            return RedirectResponse(f"{query['redirect_uri']}?{urlencode(answer)}", status_code=302)

        @app.get("/img/{product_id}/{name}")
        async def image(product_id: str, name: str) -> Response:
            return Response(_jpeg(f"{product_id}/{name}"), media_type="image/jpeg")

        return app


def _wrap(wrapped: bool, key: str, rows: list[dict[str, Any]]) -> Any:
    return {key: rows} if wrapped else rows


def _parent(category_id: str) -> str | None:
    return next((p for c, _, p in CATEGORIES if c == category_id), None)


_JPEGS: dict[str, bytes] = {}


def _jpeg(key: str) -> bytes:
    """A small JPEG whose colour depends on ``key`` (made once per key)."""
    if key not in _JPEGS:
        from PIL import Image

        digest = hashlib.sha256(key.encode()).digest()
        buffer = io.BytesIO()
        Image.new("RGB", (64, 64), (digest[0], digest[1], digest[2])).save(buffer, "JPEG")
        _JPEGS[key] = buffer.getvalue()
    return _JPEGS[key]
