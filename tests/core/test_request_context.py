"""The request middleware's cheap parts answer what the general ones did."""

from __future__ import annotations

import uuid

from oja.core.metrics import HTTP_LATENCY, HTTP_REQUESTS
from oja.core.middleware import _metrics_for, new_request_id


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
