"""The AliExpress adapter: signature vectors, both envelopes read alike, ``sku_attr`` → variant
options, string prices → minor units, and the gateway's refusals turned into the port's errors —
against the sandbox fake over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from oja.billing.providers.port import ProviderCallRateLimited, ProviderCallRefused
from oja.marketplace.sources.aliexpress import envelope
from oja.marketplace.sources.aliexpress.client import AliExpressClient
from oja.marketplace.sources.aliexpress.signing import sign, string_to_sign
from oja.marketplace.sources.port import (
    SearchQuery,
    ShippingOption,
    SourceAuthorizationExpired,
    SourceCategory,
    SourceOption,
    SourceProductGone,
)
from oja.sandbox.aliexpress import (
    DEFAULT_APP_KEY,
    DEFAULT_APP_SECRET,
    FIRST_PRODUCT_ID,
    AliExpressFake,
)
from tests.fakes import serving

FIRST = str(FIRST_PRODUCT_ID)


# Signature vectors


def test_sha256_of_a_system_api_matches_the_documented_vector() -> None:
    """The "Authorize your APP" example: app_key 12345678, secret helloworld, /auth/token/create."""
    params = {
        "app_key": "12345678",
        "code": "3_500102_JxZ05Ux3cnnSSUm6dCxYg6Q26",
        "sign_method": "sha256",
        "timestamp": "1517820392000",
    }
    assert string_to_sign(params, "/auth/token/create") == (
        "/auth/token/createapp_key12345678code3_500102_JxZ05Ux3cnnSSUm6dCxYg6Q26"
        "sign_methodsha256timestamp1517820392000"
    )
    assert sign("helloworld", params, api_path="/auth/token/create") == (
        "35607762342831B6A417A0DED84B79C05FEFBF116969C48AD6DC00279A9F4D81"
    )


def test_a_business_api_is_signed_without_a_path_and_md5_wraps_the_secret() -> None:
    params = {
        "app_key": "12345678",
        "method": "aliexpress.ds.product.get",
        "product_id": "1005001234567890",
        "session": "test",
        "ship_to_country": "NG",
        "sign_method": "sha256",
        "timestamp": "1517820392000",
        "sign": "ignored: never part of the string",
    }
    assert sign("helloworld", params, api_path="aliexpress.ds.product.get") == (
        "554926066F168AA774DF6442B4FFE5809778C907C9A57C0BFFCD6170909B5CDC"
    )
    legacy = {
        "app_key": "12345678",
        "format": "json",
        "method": "aliexpress.ds.product.get",
        "product_id": "1005001234567890",
        "session": "test",
        "sign_method": "md5",
        "timestamp": "2018-02-05 08:46:32",
        "v": "2.0",
    }
    assert sign("helloworld", legacy, method="md5") == "55F12C50ACD1E45E7A266C69B1700126"


def test_the_client_signs_exactly_what_it_sends() -> None:
    client = AliExpressClient(
        base_url="http://unused", app_key="12345678", app_secret="helloworld", clock=lambda: 1
    )
    query = client.signed("aliexpress.ds.product.get", {"product_id": 7, "x": None, "b": True})
    assert query == {
        "app_key": "12345678",
        "sign_method": "sha256",
        "timestamp": "1",
        "partner_id": "oja",
        "format": "json",
        "method": "aliexpress.ds.product.get",
        "simplify": "true",
        "product_id": "7",
        "b": "true",
        "sign": sign("helloworld", {k: v for k, v in query.items() if k != "sign"}),
    }


# Mapping, offline


def _simplified_product(sku_attr: str) -> dict[str, Any]:
    return {
        "code": "0",
        "rsp_code": "200",
        "result": {
            "ae_item_base_info_dto": {
                "product_id": 42,
                "subject": "Sunglasses",
                "category_id": 7,
                "currency_code": "CNY",
            },
            "ae_multimedia_info_dto": {
                "image_urls": "https://a/1.jpg; https://a/2.jpg;;https://a/1.jpg"
            },
            "ae_item_sku_info_dtos": [
                {
                    "sku_id": "12000",
                    "sku_attr": sku_attr,
                    "offer_sale_price": "1,012.90",
                    "sku_available_stock": "7",
                    "currency_code": "usd",
                    "ae_sku_property_dtos": [
                        {
                            "sku_property_id": 73,
                            "sku_property_name": "Color",
                            "property_value_id": 175,
                            "sku_property_value": "black",
                            "sku_image": "https://a/black.jpg",
                        },
                        {
                            "sku_property_id": 71,
                            "sku_property_name": "Lens",
                            "property_value_id": 193,
                            "sku_property_value": "polarized",
                            "property_value_definition_name": "Polarized",
                        },
                    ],
                }
            ],
        },
    }


def test_sku_attr_becomes_ordered_labelled_options_and_prices_become_minor_units() -> None:
    answer = envelope.unwrap(
        "aliexpress.ds.product.get", _simplified_product("73:175#Black Green;71:193")
    )
    product = envelope.product(answer, currency="USD")
    assert product.images == ("https://a/1.jpg", "https://a/2.jpg")
    assert product.seller_currency == "CNY"
    (variant,) = product.variants
    assert (variant.sku_id, variant.price, variant.currency, variant.stock) == (
        "12000",
        101290,
        "USD",
        7,
    )
    assert variant.sku_attr == "73:175#Black Green;71:193"
    assert variant.options == (
        SourceOption("Color", "Black Green", "73", "175", "https://a/black.jpg"),
        SourceOption("Lens", "Polarized", "71", "193", None),
    )
    assert variant.image_url == "https://a/black.jpg"


def test_error_envelopes_raise_the_port_errors() -> None:
    with pytest.raises(ProviderCallRateLimited) as limited:
        envelope.unwrap("m", {"type": "ISP", "code": "ApiCallLimit", "message": "slow down"})
    assert limited.value.provider_code == "ApiCallLimit"
    with pytest.raises(SourceAuthorizationExpired):
        envelope.unwrap("m", {"error_response": {"code": 27, "sub_code": "IllegalAccessToken"}})
    with pytest.raises(ProviderCallRefused) as refused:
        envelope.unwrap("m", {"type": "ISV", "code": "IncompleteSignature", "message": "bad"})
    assert refused.value.provider_code == "IncompleteSignature"
    with pytest.raises(SourceProductGone):
        envelope.product({"rsp_code": "605"}, currency="USD")


# Against the fake


@pytest.fixture
def served() -> Iterator[tuple[AliExpressFake, str]]:
    yield from serving(AliExpressFake(products=12, variants=4, images=3))


@pytest.fixture
async def ae(served: tuple[AliExpressFake, str]) -> AsyncIterator[AliExpressClient]:
    _, url = served
    async with AliExpressClient(
        base_url=url, app_key=DEFAULT_APP_KEY, app_secret=DEFAULT_APP_SECRET, timeout=5
    ) as client:
        yield client


async def _token(fake: AliExpressFake, ae: AliExpressClient) -> str:
    return (await ae.create_token(fake.issue_code())).access_token


async def test_both_envelopes_read_to_the_same_answers(
    served: tuple[AliExpressFake, str], ae: AliExpressClient
) -> None:
    fake, url = served
    token = await _token(fake, ae)
    answers = []
    for shape in ("simplified", "wrapped"):
        fake.force_shape = shape
        answers.append(
            (
                await ae.product(FIRST, access_token=token),
                await ae.search(SearchQuery(text="kitchen", per_page=2), access_token=token),
                await ae.categories(access_token=token),
                await ae.shipping(FIRST, FIRST + "00", country="NG", access_token=token),
            )
        )
    assert answers[0] == answers[1]
    product, page, categories, shipping = answers[0]
    assert (product.source, product.source_id, product.title) == (
        "aliexpress",
        FIRST,
        "Kitchen item 1",
    )
    assert product.url == f"https://www.aliexpress.com/item/{FIRST}.html"
    assert product.images == tuple(f"{url}/img/{FIRST}/{n}.jpg" for n in range(3))
    assert [(v.sku_id, v.price, v.currency, v.stock) for v in product.variants] == [
        (f"{FIRST}00", 399, "USD", 100),
        (f"{FIRST}01", 449, "USD", 101),
        (f"{FIRST}02", 499, "USD", 102),
        (f"{FIRST}03", 549, "USD", 103),
    ]
    assert [[(o.name, o.value) for o in v.options] for v in product.variants] == [
        [("Color", "Black"), ("Size", "S")],
        [("Color", "White"), ("Size", "S")],
        [("Color", "Red"), ("Size", "S")],
        [("Color", "Black"), ("Size", "M")],
    ]
    assert product.variants[3].image_url == f"{url}/img/{FIRST}/c0.jpg"
    assert (page.total, page.page, page.per_page) == (3, 1, 2)
    assert [i.title for i in page.items] == ["Kitchen item 1", "Kitchen item 5"]
    assert categories[:2] == [
        SourceCategory("200000001", "Home & Garden", None),
        SourceCategory("200000002", "Kitchen", "200000001"),
    ]
    assert shipping == [
        ShippingOption("AE_STANDARD_FREE", 0, "USD", 15, 30),
        ShippingOption("CAINIAO_STANDARD", 250, "USD", 10, 20),
    ]
    async with httpx.AsyncClient() as http:
        image = await http.get(product.images[0])
    assert (image.status_code, image.headers["content-type"]) == (200, "image/jpeg")


async def test_tokens_expire_refresh_keeps_the_refresh_deadline(
    served: tuple[AliExpressFake, str], ae: AliExpressClient
) -> None:
    fake, _ = served
    created = await ae.create_token(fake.issue_code("2200000042"))
    assert created.account_id == "2200000042"
    now = datetime.now(UTC)
    assert abs(created.access_expires_at - (now + timedelta(days=1))) < timedelta(seconds=30)
    assert created.refresh_expires_at is not None
    assert abs(created.refresh_expires_at - (now + timedelta(days=2))) < timedelta(seconds=30)

    fake.advance(86_400 + 60)
    with pytest.raises(SourceAuthorizationExpired) as expired:
        await ae.product(FIRST, access_token=created.access_token)
    assert expired.value.provider_code == "IllegalAccessToken"
    assert "reconnect" in expired.value.message

    refreshed = await ae.refresh_token(created.refresh_token)
    assert refreshed.access_token != created.access_token
    assert refreshed.refresh_expires_at is not None
    # Read against this process's clock, which the fake's advance did not move: the refresh
    # token's remaining life shrank by the time advanced, it was not renewed.
    lost = created.refresh_expires_at - refreshed.refresh_expires_at
    assert abs(lost - timedelta(seconds=86_460)) < timedelta(seconds=2)
    assert (await ae.product(FIRST, access_token=refreshed.access_token)).source_id == FIRST

    fake.advance(86_400)
    with pytest.raises(SourceAuthorizationExpired):
        await ae.refresh_token(refreshed.refresh_token)
    with pytest.raises(ProviderCallRefused) as reused:
        await ae.create_token("3_unknown_code")
    assert reused.value.provider_code == "InvalidCode"


async def test_the_fake_checks_signatures_exactly_in_both_methods(
    served: tuple[AliExpressFake, str], ae: AliExpressClient
) -> None:
    fake, url = served
    token = await _token(fake, ae)
    async with AliExpressClient(
        base_url=url, app_key=DEFAULT_APP_KEY, app_secret="wrong", timeout=5
    ) as forged:
        with pytest.raises(ProviderCallRefused) as refused:
            await forged.product(FIRST, access_token=token)
    assert refused.value.provider_code == "IncompleteSignature"
    async with AliExpressClient(
        base_url=url,
        app_key=DEFAULT_APP_KEY,
        app_secret=DEFAULT_APP_SECRET,
        sign_method="md5",
        simplify=False,
        timeout=5,
    ) as legacy:
        assert (await legacy.product(FIRST, access_token=token)).source_id == FIRST
    async with AliExpressClient(
        base_url=url,
        app_key=DEFAULT_APP_KEY,
        app_secret=DEFAULT_APP_SECRET,
        clock=lambda: 1517820392000,
        timeout=5,
    ) as stale:
        with pytest.raises(ProviderCallRefused) as old:
            await stale.product(FIRST, access_token=token)
    assert old.value.provider_code == "InvalidTimestamp"
    # A tampered parameter after signing is refused too, and the token may be sent as access_token.
    query = ae.signed("aliexpress.ds.product.get", {"product_id": FIRST, "ship_to_country": "NG"})
    query["access_token"] = token
    async with httpx.AsyncClient(base_url=url) as http:
        tampered = await http.post("/sync", params={**query, "product_id": "1"})
        query.pop("sign")
        query["sign"] = sign(DEFAULT_APP_SECRET, query)
        good = await http.post("/sync", data=query)
    assert tampered.json()["code"] == "IncompleteSignature"
    assert good.json()["code"] == "0"
    assert [c.outcome for c in fake.api_calls("aliexpress.ds.product.get")] == [
        "IncompleteSignature",
        "ok",
        "InvalidTimestamp",
        "IncompleteSignature",
        "ok",
    ]


async def test_throttling_answers_api_call_limit(
    served: tuple[AliExpressFake, str], ae: AliExpressClient
) -> None:
    fake, _ = served
    token = await _token(fake, ae)
    fake.throttle_next(1)
    with pytest.raises(ProviderCallRateLimited) as limited:
        await ae.product(FIRST, access_token=token)
    assert (limited.value.provider_code, limited.value.retry_after) == ("ApiCallLimit", 1.0)
    assert (await ae.product(FIRST, access_token=token)).source_id == FIRST

    fake.calls_per_second = 2
    outcomes = []
    for _ in range(3):
        try:
            await ae.categories(access_token=token)
            outcomes.append("ok")
        except ProviderCallRateLimited:
            outcomes.append("limited")
    assert outcomes == ["ok", "ok", "limited"]


async def test_removed_and_unshipped_products_are_gone(
    served: tuple[AliExpressFake, str], ae: AliExpressClient
) -> None:
    fake, _ = served
    token = await _token(fake, ae)
    second = str(FIRST_PRODUCT_ID + 1)
    fake.remove(FIRST)
    fake.stop_shipping_to(second, "NG")
    with pytest.raises(SourceProductGone) as removed:
        await ae.product(FIRST, access_token=token)
    assert removed.value.provider_code == "605"
    with pytest.raises(SourceProductGone) as unshipped:
        await ae.product(second, access_token=token)
    assert unshipped.value.provider_code == "604"
    with pytest.raises(SourceProductGone):
        await ae.shipping(second, second + "00", country="NG", access_token=token)
    fake.set_price(str(FIRST_PRODUCT_ID + 2), "10.05")
    fake.set_stock(str(FIRST_PRODUCT_ID + 2), 0)
    changed = await ae.product(str(FIRST_PRODUCT_ID + 2), access_token=token)
    assert {(v.price, v.stock) for v in changed.variants} == {(1005, 0)}


async def test_authorize_redirects_with_a_code_and_the_state(
    served: tuple[AliExpressFake, str], ae: AliExpressClient
) -> None:
    _, url = served
    async with httpx.AsyncClient(base_url=url) as http:
        answer = await http.get(
            "/oauth/authorize",
            params={
                "response_type": "code",
                "force_auth": "true",
                "client_id": DEFAULT_APP_KEY,
                "redirect_uri": "http://oja.test/cb",
                "state": "s1",
            },
        )
        unknown = await http.get(
            "/oauth/authorize", params={"client_id": "1", "redirect_uri": "http://oja.test/cb"}
        )
    assert answer.status_code == 302
    location = httpx.URL(answer.headers["location"])
    assert (location.host, location.path, location.params["state"]) == ("oja.test", "/cb", "s1")
    token = await ae.create_token(location.params["code"])
    assert token.access_token
    assert unknown.status_code == 400
