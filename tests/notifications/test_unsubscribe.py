"""One-click unsubscribe (RFC 8058): every marketing email carries the headers and a signed link
that works without signing in; forged, altered or foreign tokens are refused and change nothing."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from oja.notifications import unsubscribe
from tests.conftest import Jobs
from tests.marketplace.conftest import error_code
from tests.notifications.conftest import PROMOTION, SHIPPED, Fakes, emit, reachable


def _link(headers: dict[str, str]) -> tuple[str, str]:
    url = urlsplit(headers["List-Unsubscribe"].strip("<>"))
    return url.path, parse_qs(url.query)["token"][0]


async def _promotions_email(app: Any, client: httpx.AsyncClient, person: Any) -> bool:
    body = (await client.get("/notifications/preferences", headers=person.headers)).json()
    return {(p["category"], p["channel"]): p["enabled"] for p in body["preferences"]}[
        ("promotions", "email")
    ]


async def test_a_marketing_email_unsubscribes_in_one_click_without_signing_in(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    ada = await reachable(app, client)
    await emit(app, "product.new_from_followed_store", [ada], **PROMOTION)
    await emit(app, "order.shipped", [ada], **SHIPPED)
    await jobs.run(app)
    [promo] = [m for m in fakes.sendgrid.messages if m.subject.startswith("New from")]
    [order] = [m for m in fakes.sendgrid.messages if m.subject.startswith("Order")]
    assert promo.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path, token = _link(promo.headers)
    assert path == "/notifications/unsubscribe"
    assert promo.text.endswith(
        f"Stop these emails with one click: {promo.headers['List-Unsubscribe'].strip('<>')}"
    )
    assert "List-Unsubscribe" not in order.headers  # a transactional email has none

    # What a mail client sends: a POST with the RFC 8058 body, no credentials.
    answer = await client.post(
        path,
        params={"token": token},
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"category": "promotions", "channel": "email", "enabled": False}
    assert await _promotions_email(app, client, ada) is False
    again = await client.post(path, params={"token": token})
    assert again.status_code == 200  # clients may POST twice

    await emit(app, "product.new_from_followed_store", [ada], **PROMOTION)
    await jobs.run(app)
    assert len(fakes.sendgrid.messages) == 2  # no more promotion emails
    listed = (await client.get("/notifications", headers=ada.headers)).json()
    assert listed["total"] == 3  # the in-app notification still comes


async def test_forged_and_altered_tokens_are_refused_and_change_nothing(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    ada = await reachable(app, client)
    bob = await reachable(app, client, name="Bob")
    await emit(app, "product.new_from_followed_store", [ada], **PROMOTION)
    await jobs.run(app)
    [mail] = fakes.sendgrid.messages
    path, token = _link(mail.headers)
    user_id, category, signature = token.split(".")
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    forged = [
        f"{user_id}.{category}.{flipped}",  # altered signature
        f"{bob.id}.{category}.{signature}",  # Ada's signature on Bob's id
        f"{user_id}.orders.{signature}",  # another category
        unsubscribe.token_for(
            "another-secret-of-at-least-32-bytes!!",
            uuid.UUID(bob.id),
            unsubscribe.Category.promotions,
        ),
        f"{user_id}.{category}",
        "garbage",
        "",
    ]
    for bad in forged:
        answer = await client.post(path, params={"token": bad})
        assert answer.status_code == 400, bad
        assert error_code(answer) == "unsubscribe_token_invalid"
    missing = await client.post(path)
    assert missing.status_code == 422
    assert await _promotions_email(app, client, ada) is True
    assert await _promotions_email(app, client, bob) is True


async def test_a_token_for_an_account_that_is_gone_is_refused(
    app: Any, client: httpx.AsyncClient
) -> None:
    secret = app.state.runtime.settings.secret_key
    token = unsubscribe.token_for(secret, uuid.uuid4(), unsubscribe.Category.promotions)
    answer = await client.post("/notifications/unsubscribe", params={"token": token})
    assert answer.status_code == 400
    assert error_code(answer) == "unsubscribe_token_invalid"
