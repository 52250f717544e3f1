from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from oja.sandbox.sms import DEFAULT_API_KEY, TermiiFake
from tests.fakes import serving


@pytest.fixture
def termii() -> Iterator[tuple[TermiiFake, str]]:
    yield from serving(TermiiFake(balance=5, user="Sandbox User"))


def body(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "to": "2347880234567",
        "from": "talert",
        "sms": "Hi there, testing Termii",
        "type": "plain",
        "channel": "generic",
        "api_key": DEFAULT_API_KEY,
    }
    values.update(overrides)
    return values


def test_send_answers_like_termii_and_lists_the_message(termii: tuple[TermiiFake, str]) -> None:
    fake, url = termii

    response = httpx.post(f"{url}/api/sms/send", json=body())
    listed = httpx.get(f"{url}/messages")

    assert response.status_code == 200
    sent = response.json()
    assert sent == {
        "message_id": sent["message_id"],
        "message": "Successfully Sent",
        "balance": 4,
        "user": "Sandbox User",
    }
    assert listed.json() == {
        "messages": [
            {
                "message_id": sent["message_id"],
                "to": "2347880234567",
                "from": "talert",
                "sms": "Hi there, testing Termii",
                "type": "plain",
                "channel": "generic",
                "received_at": fake.messages[0].received_at,
            }
        ]
    }


def test_several_recipients_cost_one_unit_each(termii: tuple[TermiiFake, str]) -> None:
    fake, url = termii

    response = httpx.post(f"{url}/api/sms/send", json=body(to=["2348011111111", "2348022222222"]))

    assert response.json()["balance"] == 3
    assert [m.to for m in fake.messages] == ["2348011111111", "2348022222222"]
    assert len({m.message_id for m in fake.messages}) == 1


@pytest.mark.parametrize(
    ("overrides", "status", "message"),
    [
        ({"api_key": "wrong"}, 401, "Unauthorized: invalid API key"),
        ({"api_key": None}, 401, "Unauthorized: invalid API key"),
        (
            {"to": "+2347880234567"},
            400,
            "Phone number must be in the international format e.g. 23490126727",
        ),
        ({"from": "AB"}, 400, "Invalid Sender Id"),
        ({"sms": ""}, 400, "The sms field is required"),
        ({"type": "unicode"}, 400, "The type field must be plain"),
        ({"channel": "sms"}, 400, "The channel field must be one of dnd, whatsapp, generic"),
        ({"to": ["2347880234567"] * 6}, 400, "Insufficient balance"),
    ],
)
def test_invalid_sends_are_refused_and_not_stored(
    termii: tuple[TermiiFake, str], overrides: dict[str, Any], status: int, message: str
) -> None:
    fake, url = termii

    response = httpx.post(f"{url}/api/sms/send", json=body(**overrides))

    assert (response.status_code, response.json()) == (status, {"message": message})
    assert fake.messages == []
    assert fake.balance == 5


def test_inbox_page_escapes_and_clear_empties(termii: tuple[TermiiFake, str]) -> None:
    fake, url = termii
    httpx.post(f"{url}/api/sms/send", json=body(sms="<b>123456</b>"))

    page = httpx.get(f"{url}/")
    cleared = httpx.delete(f"{url}/messages")

    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "&lt;b&gt;123456&lt;/b&gt;" in page.text
    assert "<b>123456</b>" not in page.text
    assert cleared.status_code == 204
    assert fake.messages == []
