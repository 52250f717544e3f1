"""Every non-2xx answer has the envelope shape and an honest status."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, OperationalError

from oja.core.errors import Conflict
from tests.conftest import LogCapture

ENVELOPE_KEYS = {"code", "message", "details"}


class Item(BaseModel):
    name: str
    quantity: int


@pytest.fixture
def test_app(app: FastAPI) -> FastAPI:
    @app.post("/_test/items")
    async def create_item(item: Item) -> dict[str, Any]:
        return item.model_dump()

    @app.get("/_test/conflict")
    async def conflict() -> None:
        raise Conflict("Already there.", details={"id": 7})

    @app.get("/_test/crash")
    async def crash() -> None:
        raise RuntimeError("internal detail: password=hunter2 at /srv/secret")

    @app.get("/_test/db-down")
    async def db_down() -> None:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))

    @app.get("/_test/nul-text")
    async def nul_text() -> None:
        class CharacterNotInRepertoire(Exception):  # asyncpg's, as SQLAlchemy wraps it
            sqlstate = "22021"

        cause = CharacterNotInRepertoire('invalid byte sequence for encoding "UTF8": 0x00')
        raise DBAPIError("INSERT INTO chatroom …", {}, cause) from cause

    @app.get("/_test/nul-json")
    async def nul_json() -> None:
        class UntranslatableCharacter(Exception):  # asyncpg's, for a \u0000 escape in JSONB
            sqlstate = "22P05"

        cause = UntranslatableCharacter("unsupported Unicode escape sequence")
        raise DBAPIError("UPDATE product SET attributes=…", {}, cause) from cause

    return app


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == ENVELOPE_KEYS
    assert body["error"]["code"] == code
    return dict(body["error"])


async def test_malformed_json_is_a_422_envelope(
    test_app: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        "/_test/items", content=b'{"name": "x", ', headers={"content-type": "application/json"}
    )
    error = assert_envelope(response, 422, "validation_error")
    assert error["details"][0]["type"] == "json_invalid"


async def test_invalid_fields_are_listed(test_app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.post("/_test/items", json={"name": "x", "quantity": "many"})
    error = assert_envelope(response, 422, "validation_error")
    assert [d["loc"] for d in error["details"]] == [["body", "quantity"]]


async def test_domain_error_keeps_its_code_and_details(
    test_app: FastAPI, client: httpx.AsyncClient
) -> None:
    error = assert_envelope(await client.get("/_test/conflict"), 409, "conflict")
    assert error == {"code": "conflict", "message": "Already there.", "details": {"id": 7}}


async def test_unknown_route_and_wrong_method(client: httpx.AsyncClient) -> None:
    assert_envelope(await client.get("/no/such/thing"), 404, "not_found")
    assert_envelope(await client.delete("/healthz"), 405, "method_not_allowed")


@pytest.mark.parametrize("chunked", [False, True])
async def test_oversized_body_is_413(
    test_app: FastAPI, client: httpx.AsyncClient, chunked: bool
) -> None:
    limit = test_app.state.runtime.settings.app.max_body_bytes
    body = b'{"name": "' + b"x" * limit + b'", "quantity": 1}'

    async def stream() -> Any:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    response = await client.post(
        "/_test/items",
        content=stream() if chunked else body,
        headers={"content-type": "application/json"},
    )
    error = assert_envelope(response, 413, "payload_too_large")
    assert error["details"] == {"max_bytes": limit}


async def test_unhandled_exception_is_500_with_request_id_and_no_internals(
    test_app: FastAPI, client: httpx.AsyncClient, log_output: LogCapture
) -> None:
    response = await client.get("/_test/crash", headers={"x-request-id": "req-abc.123"})
    error = assert_envelope(response, 500, "internal_error")
    assert error["details"] == {"request_id": "req-abc.123"}
    assert response.headers["x-request-id"] == "req-abc.123"
    assert "hunter2" not in response.text
    assert "/srv/secret" not in response.text
    assert "RuntimeError" not in response.text
    logged = log_output.text
    assert "request.unhandled_error" in logged
    assert "Traceback" in logged  # the stack is logged …
    assert "hunter2" not in logged  # … with the secret scrubbed


async def test_backend_failure_is_503_not_500(test_app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.get("/_test/db-down")
    assert_envelope(response, 503, "service_unavailable")
    assert response.headers["retry-after"] == "5"


async def test_text_the_database_cannot_store_is_422_not_500(
    test_app: FastAPI, client: httpx.AsyncClient
) -> None:
    for path in ("/_test/nul-text", "/_test/nul-json"):
        body = assert_envelope(await client.get(path), 422, "invalid_text")
        assert "request_id" in body["details"]


async def test_invalid_request_id_is_replaced(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"x-request-id": "bad id\nwith newline"})
    assert response.headers["x-request-id"] != "bad id\nwith newline"
    assert len(response.headers["x-request-id"]) == 32
