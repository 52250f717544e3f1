"""The request middleware's cheap parts answer what the general ones did."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from oja.core.metrics import HTTP_LATENCY, HTTP_REQUESTS
from oja.core.middleware import _declared_length, _metrics_for, _request_headers, new_request_id
from oja.core.runtime import RuntimeMiddleware, _current


def test_a_new_request_id_is_a_uuid4_hex() -> None:
    ids = [new_request_id() for _ in range(200)]
    assert len(set(ids)) == 200
    for request_id in ids:
        parsed = uuid.UUID(hex=request_id)
        assert (len(request_id), parsed.hex) == (32, request_id)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)


def test_metric_children_are_the_labelled_ones() -> None:
    requests, latency = _metrics_for("/test/children", "GET", 204)
    assert requests is HTTP_REQUESTS.labels("/test/children", "GET", "204")
    assert latency is HTTP_LATENCY.labels("/test/children", "GET")
    assert _metrics_for("/test/children", "GET", 204) == (requests, latency)
    assert _metrics_for("/test/children", "GET", 404)[0] is not requests


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(b"host", b"x")],
        [(b"x-request-id", b"abc"), (b"content-length", b"12")],
        [(b"content-length", b"1"), (b"x-request-id", b"a"), (b"x-request-id", b"b")],
        [(b"content-length", b"1"), (b"content-length", b""), (b"accept", b"*/*")],
        [(b"content-length", b"nope")],
    ],
)
def test_request_headers_are_read_as_the_dict_read_them(headers: list[tuple[bytes, bytes]]) -> None:
    as_dict = dict(headers)
    request_id, length = _request_headers(headers)
    assert request_id == as_dict.get(b"x-request-id", b"")
    expected = as_dict.get(b"content-length", b"0") or 0
    try:
        expected_length = int(expected)
    except ValueError:
        expected_length = 0
    assert _declared_length(length) == expected_length


async def test_the_runtime_middleware_sets_the_runtime_for_the_request_only() -> None:
    runtime: Any = object()
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(_current.get())
        if scope.get("fail"):
            raise RuntimeError("boom")

    before = _current.get()
    middleware = RuntimeMiddleware(app, runtime)
    await middleware({"type": "http"}, None, None)
    with pytest.raises(RuntimeError):
        await middleware({"type": "http", "fail": True}, None, None)
    assert seen == [runtime, runtime]
    assert _current.get() is before
