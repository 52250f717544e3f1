from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from email.utils import formatdate
from typing import Any

import httpx
import pytest

from oja.core import http
from oja.core.errors import BadRequest
from oja.core.http import UnsafeUrl, check_public_url, create_http_client, retry_after_seconds

Handler = Callable[[httpx.Request], httpx.Response]


class Script:
    """A MockTransport handler that answers from a script and records every request it sees."""

    def __init__(self, *answers: int | httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, int):
            return httpx.Response(answer, text=f"status {answer}")
        return answer

    @property
    def calls(self) -> int:
        return len(self.requests)


@pytest.fixture
def delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Replaces the pause between attempts: records the delay, never sleeps."""
    recorded: list[float] = []

    async def record(delay: float) -> None:
        recorded.append(delay)

    monkeypatch.setattr(http, "backoff_sleep", record)
    return recorded


def client_for(script: Script, *, retries: int = 2) -> httpx.AsyncClient:
    return create_http_client(
        base_url="https://api.example.test",
        retries=retries,
        timeout=5.0,
        transport=httpx.MockTransport(script),
    )


async def test_get_is_retried_on_503_then_succeeds(delays: list[float]) -> None:
    script = Script(503, 200)
    async with client_for(script) as client:
        response = await client.get("/things")
    assert response.status_code == 200
    assert script.calls == 2
    assert len(delays) == 1
    assert 0 <= delays[0] <= 0.5  # first backoff: full jitter under base * 2**0


async def test_post_without_idempotency_key_is_sent_once(delays: list[float]) -> None:
    script = Script(503, 200)
    async with client_for(script) as client:
        response = await client.post("/charges", json={"amount": 100})
    assert response.status_code == 503
    assert script.calls == 1
    assert delays == []


async def test_post_with_idempotency_key_is_retried_with_the_same_body(
    delays: list[float],
) -> None:
    script = Script(502, 201)
    async with client_for(script) as client:
        response = await client.post(
            "/charges", json={"amount": 100}, headers={"Idempotency-Key": "k-1"}
        )
    assert response.status_code == 201
    assert script.calls == 2
    assert [r.content for r in script.requests] == [b'{"amount":100}', b'{"amount":100}']
    assert [r.headers["idempotency-key"] for r in script.requests] == ["k-1", "k-1"]


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("status", [429, 502, 503, 504])
async def test_every_idempotent_method_is_retried_on_every_retry_status(
    method: str, status: int, delays: list[float]
) -> None:
    script = Script(status, 200)
    async with client_for(script) as client:
        response = await client.request(method, "/x")
    assert response.status_code == 200
    assert script.calls == 2


@pytest.mark.parametrize("status", [400, 404, 409, 500, 501])
async def test_other_statuses_are_not_retried(status: int, delays: list[float]) -> None:
    script = Script(status, 200)
    async with client_for(script) as client:
        response = await client.get("/x")
    assert response.status_code == status
    assert script.calls == 1
    assert delays == []


async def test_patch_without_idempotency_key_is_sent_once(delays: list[float]) -> None:
    script = Script(503, 200)
    async with client_for(script) as client:
        response = await client.patch("/x", json={})
    assert response.status_code == 503
    assert script.calls == 1


async def test_retry_after_seconds_is_obeyed_exactly(delays: list[float]) -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "3"}), 200)
    async with client_for(script) as client:
        response = await client.get("/x")
    assert response.status_code == 200
    assert script.calls == 2
    assert delays == [3.0]


async def test_retry_after_http_date_is_obeyed(delays: list[float]) -> None:
    when = formatdate(time.time() + 20, usegmt=True)
    script = Script(httpx.Response(503, headers={"Retry-After": when}), 200)
    async with client_for(script) as client:
        response = await client.get("/x")
    assert response.status_code == 200
    assert len(delays) == 1
    assert 15 < delays[0] <= 20  # whole-second date resolution; not a timing assertion


async def test_retry_after_beyond_the_cap_returns_the_response_without_waiting(
    delays: list[float],
) -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "3600"}), 200)
    async with client_for(script) as client:
        response = await client.get("/x")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3600"
    assert script.calls == 1
    assert delays == []


async def test_exhausted_retries_return_the_last_response(delays: list[float]) -> None:
    script = Script(httpx.Response(503, text="first"), httpx.Response(503, text="second"), 504)
    async with client_for(script, retries=2) as client:
        response = await client.get("/x")
    assert script.calls == 3
    assert response.status_code == 504
    assert response.text == "status 504"
    assert len(delays) == 2
    assert 0 <= delays[0] <= 0.5
    assert 0 <= delays[1] <= 1.0


async def test_connect_errors_are_retried_for_get(delays: list[float]) -> None:
    script = Script(httpx.ConnectError("refused"), 200)
    async with client_for(script) as client:
        response = await client.get("/x")
    assert response.status_code == 200
    assert script.calls == 2


async def test_read_timeouts_exhaust_retries_then_raise(delays: list[float]) -> None:
    script = Script(httpx.ReadTimeout("slow"))
    async with client_for(script, retries=2) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/x")
    assert script.calls == 3
    assert len(delays) == 2


async def test_post_connect_error_is_raised_after_one_attempt(delays: list[float]) -> None:
    script = Script(httpx.ConnectError("refused"), 200)
    async with client_for(script) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post("/x", json={})
    assert script.calls == 1
    assert delays == []


async def test_streamed_body_is_not_retried_even_when_idempotent(delays: list[float]) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"chunk"

    script = Script(503, 200)
    async with client_for(script) as client:
        response = await client.put("/x", content=body())
    assert response.status_code == 503
    assert script.calls == 1


async def test_zero_retries_sends_once(delays: list[float]) -> None:
    script = Script(503, 200)
    async with client_for(script, retries=0) as client:
        response = await client.get("/x")
    assert response.status_code == 503
    assert script.calls == 1


async def test_factory_defaults_come_from_settings(
    monkeypatch: pytest.MonkeyPatch, delays: list[float]
) -> None:
    monkeypatch.setenv("OJA_HTTP_TIMEOUT", "7.5")
    monkeypatch.setenv("OJA_HTTP_RETRIES", "1")
    script = Script(503)
    client = create_http_client(
        transport=httpx.MockTransport(script), headers={"Authorization": "Bearer t"}
    )
    async with client:
        response = await client.get("https://api.example.test/x")
    assert client.timeout == httpx.Timeout(7.5)
    assert response.status_code == 503
    assert script.calls == 2  # one retry
    assert script.requests[0].headers["authorization"] == "Bearer t"
    assert script.requests[0].headers["user-agent"] == "oja"


def test_retry_after_parsing() -> None:
    now = 1_700_000_000.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("0") == 0.0
    assert retry_after_seconds(" 12 ") == 12.0
    assert retry_after_seconds("-5") == 0.0
    assert retry_after_seconds(formatdate(now + 7, usegmt=True), now=now) == 7.0
    assert retry_after_seconds(formatdate(now - 7, usegmt=True), now=now) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("nan") is None


# --- SSRF guard -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "private_address"),
        ("http://localhost:8000/admin", "private_address"),
        ("http://10.1.2.3/", "private_address"),
        ("http://172.16.0.1/", "private_address"),
        ("http://192.168.1.1/", "private_address"),
        ("http://169.254.169.254/latest/meta-data/", "private_address"),
        ("http://[::1]/", "private_address"),
        ("http://[::ffff:127.0.0.1]/", "private_address"),
        ("http://[::ffff:169.254.169.254]/", "private_address"),
        ("http://[64:ff9b::a9fe:a9fe]/", "private_address"),  # NAT64 form of the metadata IP
        ("http://[2002:7f00:1::]/", "private_address"),  # 6to4 form of 127.0.0.1
        ("http://[fe80::1]/", "private_address"),
        ("http://[fc00::1]/", "private_address"),
        ("http://0.0.0.0/", "private_address"),
        ("http://100.64.0.1/", "private_address"),  # carrier-grade NAT
        ("http://224.0.0.1/", "private_address"),
        ("http://2130706433/", "private_address"),  # 127.0.0.1 as one decimal number
        ("ftp://example.com/file", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("http://user:pw@example.com/", "userinfo"),
        ("http://user@93.184.216.34/", "userinfo"),
        ("http:///nohost", "invalid"),
    ],
)
async def test_unsafe_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(UnsafeUrl) as caught:
        await check_public_url(url)
    error = caught.value
    assert isinstance(error, BadRequest)
    assert error.status_code == 400
    assert error.code == "unsafe_url"
    assert error.details == {"reason": reason}


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.216.34/path?q=1",
        "https://93.184.216.34:8443/",
        "https://[2606:4700:4700::1111]/",
        "http://[::ffff:93.184.216.34]/",
    ],
)
async def test_public_literal_addresses_are_accepted(url: str) -> None:
    assert await check_public_url(url) == url


async def test_allow_hosts_lets_the_sandbox_through() -> None:
    url = "http://localhost:8000/fake/paystack"
    assert await check_public_url(url, allow_hosts=["LOCALHOST"]) == url
    with pytest.raises(UnsafeUrl):
        await check_public_url(url, allow_hosts=["sandbox.local"])


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
    async def getaddrinfo(host: str, port: int, **_: Any) -> list[Any]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)


async def test_a_name_is_refused_if_any_address_is_private(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(
        monkeypatch,
        {"mixed.example": ["93.184.216.34", "10.0.0.5"], "public.example": ["93.184.216.34"]},
    )
    with pytest.raises(UnsafeUrl) as caught:
        await check_public_url("https://mixed.example/hook")
    assert caught.value.details == {"reason": "private_address"}
    assert await check_public_url("https://public.example/hook") == "https://public.example/hook"


async def test_a_name_with_a_zoned_link_local_address_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, {"zoned.example": ["fe80::1%eth0"]})
    with pytest.raises(UnsafeUrl) as caught:
        await check_public_url("http://zoned.example/")
    assert caught.value.details == {"reason": "private_address"}


async def test_an_unresolvable_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {})
    with pytest.raises(UnsafeUrl) as caught:
        await check_public_url("http://nowhere.invalid/")
    assert caught.value.details == {"reason": "unresolvable"}
