"""The shopping day's own HTTP client (``bench/shopping_day.py``): what it records per request."""

from __future__ import annotations

import socket

import aiohttp
from aiohttp import web
from bench.shopping_day import Client, DayRecorder


async def _server() -> tuple[web.AppRunner, int]:
    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"q": request.query.get("q"), "seen": request.headers.get("X")})

    async def busy(request: web.Request) -> web.Response:
        return web.json_response({"error": "busy"}, status=503, headers={"Retry-After": "2"})

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_post("/busy", busy)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, port


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_answers_errors_and_unreachable_servers_are_recorded() -> None:
    runner, port = await _server()
    rec = DayRecorder(phase="day")
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, f"http://127.0.0.1:{port}")
            answer = await rec.call(
                client,
                "GET /ok",
                "GET",
                "/ok",
                expect={200},
                params={"q": "eko"},
                headers={"X": "1"},
            )
            busy = await rec.call(client, "POST /busy", "POST", "/busy", expect={200}, json={})
            # An absolute URL (the payment fake's page) is used as it is.
            gone = await rec.call(
                client, "GET gone", "GET", f"http://127.0.0.1:{_closed_port()}/", expect={200}
            )
    finally:
        await runner.cleanup()
    assert answer is not None
    assert (answer.status_code, answer.json()) == (200, {"q": "eko", "seen": "1"})
    assert busy is not None
    assert (busy.status_code, busy.headers["Retry-After"]) == (503, "2")
    assert gone is None
    got = [(s.phase, s.endpoint, s.status, s.ok) for s in rec.samples]
    assert got == [
        ("day", "GET /ok", 200, True),
        ("day", "POST /busy", 503, False),
        ("day", "GET gone", 0, False),
    ]
    assert rec.samples[0].detail == ""
    assert rec.samples[1].detail == 'POST /busy -> 503: {"error": "busy"}'
    assert rec.samples[2].detail.startswith("GET http://127.0.0.1:")
