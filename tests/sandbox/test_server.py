from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from oja.sandbox.server import SandboxServer


def hello_app() -> FastAPI:
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return app


def test_serves_over_real_http_and_stops() -> None:
    server = SandboxServer(hello_app())
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.url

    with server:
        url = server.url
        assert url == f"http://127.0.0.1:{server.port}"
        assert server.port > 0
        response = httpx.get(f"{url}/hello")
        assert (response.status_code, response.json()) == (200, {"hello": "world"})

    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/hello")


def test_two_servers_get_different_ports() -> None:
    with SandboxServer(hello_app()) as first, SandboxServer(hello_app()) as second:
        assert first.port != second.port
        assert httpx.get(f"{second.url}/hello").status_code == 200


def test_a_taken_port_fails_at_start() -> None:
    with SandboxServer(hello_app()) as first:
        with pytest.raises(OSError):
            SandboxServer(hello_app(), port=first.port).start()
