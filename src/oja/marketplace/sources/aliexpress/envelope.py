"""Both AliExpress answer shapes read in one place, and the DS payloads turned into the port's types.

A call answers either the *simplified* form (``simplify=true``: the result at the top level, arrays
plain) or the *wrapped* form (``{"aliexpress_ds_product_get_response": {...}}`` with every array one
level deeper, e.g. ``ae_item_sku_info_dtos.ae_item_sku_info_d_t_o[]``). :func:`unwrap` removes the
method wrapper and :func:`_flat` the array wrappers, so the readers below see one shape. Errors come
as the IOP top-level ``{type, code, message}`` or the TOP ``error_response``; both raise here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NoReturn

from oja.billing.providers.port import (
    ProviderCallRateLimited,
    ProviderCallRefused,
    ProviderCallUnavailable,
    to_minor,
)
from oja.marketplace.sources.port import (
    SearchPage,
    ShippingOption,
    SourceAuthorizationExpired,
    SourceCategory,
    SourceListing,
    SourceOption,
    SourceProduct,
    SourceProductGone,
    SourceVariant,
)

PROVIDER = "aliexpress"
TOKEN_ERRORS = frozenset(
    {"IllegalAccessToken", "InvalidSession", "SessionExpired", "IllegalRefreshToken"}
)
"""Codes that mean the account's token is no good: reconnect or refresh, never retry as is."""
GONE_CODES = frozenset({"605", "604"})
"""``rsp_code`` values public clients treat as "product no longer available" (§3.7)."""
PRODUCT_URL = "https://www.aliexpress.com/item/{id}.html"


def raise_for_error(body: dict[str, Any]) -> None:
    """Raise the port's exception for an IOP or TOP error envelope; return for a success."""
    top = body.get("error_response")
    if isinstance(top, dict):
        top_code = str(top.get("sub_code") or top.get("code") or "")
        _raise(top_code, str(top.get("sub_msg") or top.get("msg") or top_code))
    code = body.get("code")
    if code is not None and str(code) != "0" and not _wrapper(body):
        _raise(str(code), str(body.get("message") or body.get("msg") or code))


def _raise(code: str, message: str) -> NoReturn:
    text = f"AliExpress refused the call: {message}"
    if code == "ApiCallLimit" or code.startswith("ApiCallLimit"):
        raise ProviderCallRateLimited(text, provider=PROVIDER, retry_after=1.0, provider_code=code)
    if code in TOKEN_ERRORS:
        raise SourceAuthorizationExpired(
            "The AliExpress connection has expired or was revoked: reconnect the account.",
            provider=PROVIDER,
            provider_code=code,
        )
    if code in {"ISP", "ServiceUnavailable", "SYSTEM_ERROR"}:
        raise ProviderCallUnavailable(text, provider=PROVIDER, provider_code=code)
    raise ProviderCallRefused(text, provider=PROVIDER, provider_code=code)


def _wrapper(body: dict[str, Any]) -> str | None:
    return next((key for key in body if key.endswith("_response")), None)


def unwrap(method: str, body: dict[str, Any]) -> dict[str, Any]:
    """The answer of ``method`` in one shape: errors raised, method wrapper and array wrappers gone."""
    raise_for_error(body)
    key = method.replace(".", "_") + "_response"
    inner = body.get(key, body)
    if not isinstance(inner, dict):
        raise ProviderCallUnavailable("AliExpress answered without a result.", provider=PROVIDER)
    flat = _flat(inner)
    assert isinstance(flat, dict)
    return flat


ARRAY_WRAPPERS = frozenset(
    {"selection_search_product", "ae_item_property", "category", "product", "string", "number"}
)
"""Keys the wrapped form nests arrays under, besides every ``*_d_t_o``."""


def _flat(value: Any) -> Any:
    """``{"x_d_t_o": [...]}`` (an array wrapper alone in its object) becomes the list, at every
    depth."""
    if isinstance(value, list):
        return [_flat(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, only),) = value.items()
        if isinstance(only, list | dict) and (key.endswith("_d_t_o") or key in ARRAY_WRAPPERS):
            return [_flat(item) for item in (only if isinstance(only, list) else [only])]
    return {key: _flat(item) for key, item in value.items()}


def _list(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):  # a wrapper holding a single object instead of a list
        value = [value]
    return [item for item in value or [] if isinstance(item, dict)]


def money(value: Any, currency: str) -> int:
    """AliExpress's string number (``"12.90"``) → minor units of ``currency``."""
    return to_minor(Decimal(str(value).replace(",", "").strip()), currency)


def split_images(value: Any) -> tuple[str, ...]:
    """``image_urls`` is one ``;``-separated string (a list is tolerated); blanks and repeats go."""
    parts = value if isinstance(value, list) else str(value or "").split(";")
    seen: dict[str, None] = {}
    for part in parts:
        url = str(part).strip()
        if url:
            seen.setdefault(url, None)
    return tuple(seen)


def parse_sku_attr(sku_attr: str) -> list[tuple[str, str, str | None]]:
    """``"14:175#Black Green;5:361386"`` → ``[("14", "175", "Black Green"), ("5", "361386", None)]``."""
    pairs = []
    for raw in sku_attr.split(";"):
        part = raw.strip()
        if not part:
            continue
        ids, _, label = part.partition("#")
        prop, _, value = ids.partition(":")
        pairs.append((prop.strip(), value.strip(), label.strip() or None))
    return pairs


def _options(sku: dict[str, Any]) -> tuple[SourceOption, ...]:
    """The options of one SKU: ``sku_attr`` gives the order and the seller's labels,
    ``ae_sku_property_dtos`` the property names and images."""
    props = {
        (str(p.get("sku_property_id", "")), str(p.get("property_value_id", ""))): p
        for p in _list(sku.get("ae_sku_property_dtos"))
    }
    options = []
    for prop_id, value_id, label in parse_sku_attr(str(sku.get("sku_attr") or "")):
        prop = props.get((prop_id, value_id), {})
        options.append(
            SourceOption(
                name=str(prop.get("sku_property_name") or prop_id),
                value=label
                or str(
                    prop.get("property_value_definition_name")
                    or prop.get("sku_property_value")
                    or value_id
                ),
                property_id=prop_id,
                value_id=value_id,
                image_url=str(prop["sku_image"]) if prop.get("sku_image") else None,
            )
        )
    return tuple(options)


def _stock(sku: dict[str, Any]) -> int:
    for name in ("sku_available_stock", "ipm_sku_stock", "s_k_u_available_stock"):
        if sku.get(name) not in (None, ""):
            return max(int(str(sku[name])), 0)
    return 0


def _variant(sku: dict[str, Any], default_currency: str) -> SourceVariant:
    currency = str(sku.get("currency_code") or default_currency).upper()
    price = sku.get("offer_sale_price") or sku.get("sku_price")
    options = _options(sku)
    return SourceVariant(
        sku_id=str(sku.get("sku_id") or sku.get("id")),
        sku_attr=str(sku.get("sku_attr") or ""),
        options=options,
        price=money(price, currency),
        currency=currency,
        stock=_stock(sku),
        image_url=next((o.image_url for o in options if o.image_url), None),
    )


def product(result: dict[str, Any], *, currency: str) -> SourceProduct:
    """``aliexpress.ds.product.get``'s unwrapped answer → :class:`SourceProduct`."""
    if str(result.get("rsp_code") or "200") in GONE_CODES or not result.get("result"):
        raise SourceProductGone(
            "AliExpress no longer offers this product.",
            provider=PROVIDER,
            provider_code=str(result.get("rsp_code") or ""),
        )
    body = result["result"]
    base = body.get("ae_item_base_info_dto") or {}
    media = body.get("ae_multimedia_info_dto") or {}
    source_id = str(base.get("product_id"))
    return SourceProduct(
        source=PROVIDER,
        source_id=source_id,
        title=str(base.get("subject") or ""),
        description=str(base.get("detail") or base.get("mobile_detail") or ""),
        category_id=str(base["category_id"]) if base.get("category_id") else None,
        url=PRODUCT_URL.format(id=source_id),
        images=split_images(media.get("image_urls")),
        variants=tuple(_variant(s, currency) for s in _list(body.get("ae_item_sku_info_dtos"))),
        available=str(base.get("product_status_type") or "onSelling") == "onSelling",
        seller_currency=str(base["currency_code"]) if base.get("currency_code") else None,
    )


def search_page(result: dict[str, Any], *, currency: str) -> SearchPage:
    """``aliexpress.ds.text.search``'s unwrapped answer → :class:`SearchPage`."""
    data = result.get("data") or {}
    items = []
    for hit in _list(data.get("products")):
        hit_currency = str(hit.get("targetOriginalPriceCurrency") or currency).upper()
        price = hit.get("targetSalePrice") or hit.get("salePrice") or "0"
        item_id = str(hit.get("itemId"))
        items.append(
            SourceListing(
                source_id=item_id,
                title=str(hit.get("title") or ""),
                image_url=str(hit["itemMainPic"]) if hit.get("itemMainPic") else None,
                url=str(hit.get("itemUrl") or PRODUCT_URL.format(id=item_id)),
                price=money(price, hit_currency),
                currency=hit_currency,
                category_id=str(hit["cateId"]) if hit.get("cateId") else None,
            )
        )
    return SearchPage(
        items=tuple(items),
        page=int(data.get("pageIndex") or 1),
        per_page=int(data.get("pageSize") or len(items)),
        total=int(data.get("totalCount") or 0),
    )


def categories(result: dict[str, Any]) -> list[SourceCategory]:
    """``aliexpress.ds.category.get``'s unwrapped answer → flat list (parents before children)."""
    body = (result.get("resp_result") or {}).get("result") or result.get("result") or {}
    return [
        SourceCategory(
            source_id=str(c.get("category_id")),
            name=str(c.get("category_name") or ""),
            parent_id=str(c["parent_category_id"]) if c.get("parent_category_id") else None,
        )
        for c in _list(body.get("categories"))
    ]


def shipping(result: dict[str, Any]) -> list[ShippingOption]:
    """``aliexpress.ds.freight.query``'s unwrapped answer → the offered services, cheapest first."""
    body = result.get("result") or {}
    if str(body.get("success", "true")).lower() == "false":
        raise SourceProductGone(
            str(body.get("msg") or "AliExpress does not ship this product there."),
            provider=PROVIDER,
            provider_code=str(body.get("code") or ""),
        )
    options = []
    for option in _list(body.get("delivery_options")):
        currency = str(option.get("shipping_fee_currency") or "USD").upper()
        options.append(
            ShippingOption(
                service=str(option.get("code") or ""),
                fee=money(option.get("shipping_fee_cent") or "0", currency),
                currency=currency,
                min_days=_int(option.get("min_delivery_days")),
                max_days=_int(option.get("max_delivery_days")),
            )
        )
    return sorted(options, key=lambda o: o.fee)


def _int(value: Any) -> int | None:
    return None if value in (None, "") else int(str(value))
