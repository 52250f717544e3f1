"""Connecting a store to AliExpress: the signed state, the callback storing sealed tokens, an
expired connection reported as such, and one store never seeing another's connection."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from oja.core.clock import utcnow
from oja.core.config import Settings
from oja.core.db import unit_of_work
from oja.identity.digests import unseal
from oja.marketplace.aliexpress import service
from oja.marketplace.errors import AliExpressConnectionExpired
from oja.marketplace.sources.aliexpress.config import AliExpressSettings
from oja.sandbox.aliexpress import (
    DEFAULT_APP_KEY,
    DEFAULT_APP_SECRET,
    FIRST_PRODUCT_ID,
    AliExpressFake,
)
from tests.conftest import TEST_SECRET, make_settings, use_settings
from tests.fakes import serving
from tests.marketplace.conftest import Person, count, open_store, person, rows


@pytest.fixture
def served() -> Iterator[tuple[AliExpressFake, str]]:
    yield from serving(AliExpressFake(products=4))


@pytest.fixture
def settings(tmp_path: Path, database_url: str, served: tuple[AliExpressFake, str]) -> Settings:
    _, url = served
    return make_settings(
        tmp_path,
        database_url,
        aliexpress_base_url=url,
        aliexpress_authorize_url=url + "/oauth/authorize",
        aliexpress_app_key=DEFAULT_APP_KEY,
        aliexpress_app_secret=DEFAULT_APP_SECRET,
    )


async def _vendor(client: httpx.AsyncClient, name: str) -> Person:
    owner = await person(client, "vendor")
    await open_store(client, owner, name)
    return owner


async def _connect(client: httpx.AsyncClient, owner: Person) -> httpx.Response:
    started = await client.get("/integrations/aliexpress/connect", headers=owner.headers)
    assert started.status_code == 200, started.text
    assert started.json()["expires_in"] == 600
    async with httpx.AsyncClient() as browser:
        consent = await browser.get(started.json()["authorize_url"])
    assert consent.status_code == 302
    back = httpx.URL(consent.headers["location"])
    assert back.path == "/integrations/aliexpress/callback"
    return await client.get(back.path, params=dict(back.params))


async def test_connect_stores_sealed_tokens_and_reports_connected(
    app: Any, client: httpx.AsyncClient, served: tuple[AliExpressFake, str]
) -> None:
    fake, _ = served
    owner = await _vendor(client, "Ali Imports")
    before = await client.get("/vendors/me/aliexpress/connection", headers=owner.headers)
    assert before.json() == {
        "status": "not_connected",
        "account_id": None,
        "account_name": None,
        "access_expires_at": None,
        "refresh_expires_at": None,
    }

    answer = await _connect(client, owner)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["status"], body["account_id"], body["account_name"]) == (
        "connected",
        "2200000001",
        "ds_buyer_0001",
    )
    (token,) = fake.tokens.values()
    (row,) = await rows(
        app, "SELECT access_token_sealed, refresh_token_sealed FROM aliexpress_connection"
    )
    assert token.access_token not in row[0]
    assert token.refresh_token not in row[1]
    assert unseal(TEST_SECRET, service.TOKEN_LABEL, row[0]) == token.access_token
    assert unseal(TEST_SECRET, service.TOKEN_LABEL, row[1]) == token.refresh_token
    assert [c.api for c in fake.api_calls()] == ["/auth/token/create"]

    # Reconnecting replaces the tokens: still one row for the store.
    again = await _connect(client, owner)
    assert again.status_code == 200
    assert await count(app, "aliexpress_connection") == 1
    shown = await client.get("/vendors/me/aliexpress/connection", headers=owner.headers)
    assert shown.json()["status"] == "connected"


async def test_forged_reused_or_stale_states_connect_nothing(
    app: Any, client: httpx.AsyncClient, served: tuple[AliExpressFake, str]
) -> None:
    fake, _ = served
    owner = await _vendor(client, "Careful Store")
    started = await client.get("/integrations/aliexpress/connect", headers=owner.headers)
    state = httpx.URL(started.json()["authorize_url"]).params["state"]
    vendor_id, user_id = state.split(".")[:2]
    forged = state.rsplit(".", 1)[0] + "." + "0" * 64
    stale_url = service.authorize_url(
        AliExpressSettings(aliexpress_app_key=DEFAULT_APP_KEY, aliexpress_app_secret="x"),
        secret=TEST_SECRET,
        public_url="http://testserver",
        vendor_id=uuid.UUID(vendor_id),
        user_id=uuid.UUID(user_id),
        now=utcnow() - timedelta(minutes=11),
    )
    stale = httpx.URL(stale_url).params["state"]
    for bad in (forged, stale, "not-a-state"):
        answer = await client.get(
            "/integrations/aliexpress/callback", params={"code": fake.issue_code(), "state": bad}
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "aliexpress_state_invalid"
    refused = await client.get(
        "/integrations/aliexpress/callback", params={"code": "3_used", "state": state}
    )
    assert refused.status_code == 502
    assert refused.json()["error"]["code"] == "aliexpress_refused"
    assert refused.json()["error"]["details"]["provider_code"] == "InvalidCode"
    assert await count(app, "aliexpress_connection") == 0
    assert [c.api for c in fake.api_calls()] == ["/auth/token/create"]


async def test_an_expired_connection_is_reported_and_refuses_a_token(
    app: Any, client: httpx.AsyncClient
) -> None:
    owner = await _vendor(client, "Lapsed Store")
    assert (await _connect(client, owner)).status_code == 200
    async with app.state.runtime.database.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE aliexpress_connection SET access_expires_at = :past, "
                "refresh_expires_at = :past"
            ),
            {"past": utcnow() - timedelta(hours=1)},
        )
    shown = await client.get("/vendors/me/aliexpress/connection", headers=owner.headers)
    assert shown.json()["status"] == "expired"
    (vendor_id,) = (await rows(app, "SELECT vendor_id FROM aliexpress_connection"))[0]
    async with unit_of_work(app.state.runtime.database) as db:
        with pytest.raises(AliExpressConnectionExpired):
            await service.access_token(
                db, uuid.UUID(str(vendor_id)), secret=TEST_SECRET, now=utcnow()
            )


async def test_one_store_never_sees_another_stores_connection(
    app: Any, client: httpx.AsyncClient
) -> None:
    owner = await _vendor(client, "First Store")
    other = await _vendor(client, "Second Store")
    buyer = await person(client)
    assert (await _connect(client, owner)).status_code == 200
    theirs = await client.get("/vendors/me/aliexpress/connection", headers=other.headers)
    assert theirs.json()["status"] == "not_connected"
    nobody = await client.get("/vendors/me/aliexpress/connection", headers=buyer.headers)
    assert nobody.status_code == 403
    assert (
        await client.get("/integrations/aliexpress/connect", headers=buyer.headers)
    ).status_code == 403
    assert (await client.get("/integrations/aliexpress/connect")).status_code == 401


async def test_without_app_credentials_connect_is_not_configured(
    app: Any, client: httpx.AsyncClient
) -> None:
    use_settings(app, aliexpress_app_key=None)
    owner = await _vendor(client, "Unconfigured Store")
    answer = await client.get("/integrations/aliexpress/connect", headers=owner.headers)
    assert answer.status_code == 503
    assert answer.json()["error"] == {
        "code": "not_configured",
        "message": "AliExpress import is not configured on this server.",
        "details": {
            "feature": "aliexpress",
            "settings": ["OJA_ALIEXPRESS_APP_KEY", "OJA_ALIEXPRESS_APP_SECRET"],
        },
    }


async def test_search_and_detail_act_for_the_connected_store_and_say_why_not(
    app: Any, client: httpx.AsyncClient, served: tuple[AliExpressFake, str]
) -> None:
    fake, url = served
    first = str(FIRST_PRODUCT_ID)
    owner = await _vendor(client, "Searching Store")
    other = await _vendor(client, "Unconnected Store")
    unconnected = await client.get("/vendors/me/aliexpress/search", headers=other.headers)
    assert unconnected.status_code == 409
    assert unconnected.json()["error"]["code"] == "aliexpress_not_connected"
    assert (await _connect(client, owner)).status_code == 200

    found = await client.get(
        "/vendors/me/aliexpress/search",
        params={"q": "kitchen", "sort": "price_desc"},
        headers=owner.headers,
    )
    assert found.status_code == 200, found.text
    assert found.json() == {
        "items": [
            {
                "ae_id": first,
                "title": "Kitchen item 1",
                "image_url": f"{url}/img/{first}/0.jpg",
                "url": f"https://www.aliexpress.com/item/{first}.html",
                "price": 399,
                "currency": "USD",
                "category_id": "200000002",
            }
        ],
        "page": 1,
        "per_page": 20,
        "total": 1,
    }
    detail = await client.get(f"/vendors/me/aliexpress/products/{first}", headers=owner.headers)
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert [v["price"] for v in body["variants"]] == [399, 449, 499, 549]
    assert body["variants"][0]["options"] == [
        {"name": "Color", "value": "Black", "image_url": f"{url}/img/{first}/c0.jpg"},
        {"name": "Size", "value": "S", "image_url": None},
    ]
    assert [s["service"] for s in body["shipping"]] == ["AE_STANDARD_FREE", "CAINIAO_STANDARD"]

    fake.remove(first)
    gone = await client.get(f"/vendors/me/aliexpress/products/{first}", headers=owner.headers)
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "aliexpress_product_gone")

    fake.expire_tokens()  # AliExpress revokes what Oja still thinks live
    revoked = await client.get("/vendors/me/aliexpress/search", headers=owner.headers)
    assert revoked.status_code == 409
    assert revoked.json()["error"]["code"] == "aliexpress_connection_expired"
    assert revoked.json()["error"]["details"] == {"provider_code": "IllegalAccessToken"}
