"""Outbound HTTP: one client factory with safe retries, and a guard for URLs that users supply.

Every client from :func:`create_http_client` sends through :class:`RetryTransport`, so the retry
rules hold for all third-party calls without each adapter re-implementing them. A request is retried
only when sending it twice cannot do harm twice: its method is idempotent or it carries an
``Idempotency-Key``, and its body is held in memory (a streamed body cannot be replayed). Redirects
are not followed.

:func:`check_public_url` is the SSRF guard. It checks the addresses a name resolves to *now*; the
fetch resolves again, so a hostile DNS server could answer differently the second time (rebinding).
Callers that fetch user URLs should keep redirects off and treat the response as untrusted.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import math
import random
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Self

import httpx

from oja.core.config import HttpSettings
from oja.core.errors import BadRequest, CoreErrorCode

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# A stale keep-alive connection closed by the server surfaces as RemoteProtocolError; for an
# idempotent request that is as safe to retry as a refused connection.
RETRY_EXCEPTIONS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadTimeout,
    httpx.RemoteProtocolError,
)

Sleep = Callable[[float], Awaitable[None]]

backoff_sleep: Sleep = asyncio.sleep
"""The pause between attempts; tests replace it to record delays instead of waiting."""


class RetryTransport(httpx.AsyncBaseTransport):
    """Retries idempotent requests on connection failures, read timeouts, 429, 502, 503 and 504.

    Invariants: a POST or PATCH without an ``Idempotency-Key`` is sent exactly once; at most
    ``1 + retries`` attempts are made; when attempts run out the last response is returned (or the
    last error raised) unchanged. Delays use exponential backoff with full jitter, except that a
    server's ``Retry-After`` is obeyed exactly; if it asks for longer than ``max_retry_after``, the
    response is returned at once rather than retried early.
    """

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        *,
        retries: int,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        max_retry_after: float = 30.0,
        sleep: Sleep | None = None,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self._transport = transport
        self._retries = retries
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._max_retry_after = max_retry_after
        self._sleep = sleep

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._retries == 0 or not is_retryable(request):
            return await self._transport.handle_async_request(request)
        attempt = 0
        while True:
            try:
                response = await self._transport.handle_async_request(request)
            except RETRY_EXCEPTIONS:
                if attempt >= self._retries:
                    raise
                delay = self._backoff(attempt)
            else:
                if response.status_code not in RETRY_STATUSES or attempt >= self._retries:
                    return response
                wanted = retry_after_seconds(response.headers.get("retry-after"))
                if wanted is not None and wanted > self._max_retry_after:
                    return response
                delay = self._backoff(attempt) if wanted is None else wanted
                await response.aclose()  # give the connection back before waiting
            attempt += 1
            await (self._sleep or backoff_sleep)(delay)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self._backoff_max, self._backoff_base * 2**attempt)
        return random.uniform(0, ceiling)  # noqa: S311 (jitter, not a secret)

    async def aclose(self) -> None:
        await self._transport.aclose()


class Closing:
    """``async with thing:`` hands ``thing`` over and closes it (:meth:`aclose`) on the way out."""

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def is_retryable(request: httpx.Request) -> bool:
    """True when resending ``request`` cannot apply it twice and its body can be replayed."""
    safe = request.method in IDEMPOTENT_METHODS or "idempotency-key" in request.headers
    # ByteStream covers empty, bytes, JSON and form bodies; generators and multipart are sent once.
    return safe and isinstance(request.stream, httpx.ByteStream)


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait per ``Retry-After`` (delta-seconds or an HTTP date); None if unusable."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:  # an HTTP date is always GMT
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The verifying TLS context every client of :func:`create_http_client` shares: httpx's
    default (certifi's bundle, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``), built once per process.
    Built per client, loading the CA bundle was most of a checkout's CPU (73 % of its samples,
    profiled: a payment opens a provider client). A context is safe to share between clients;
    the environment is read when the first client is made."""
    return httpx.create_ssl_context()


def create_http_client(
    *,
    base_url: str = "",
    timeout: float | None = None,
    retries: int | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.AsyncClient:
    """An ``AsyncClient`` with Oja's timeout and retry policy; ``transport`` is for tests and fakes.

    Unset ``timeout`` and ``retries`` come from ``OJA_HTTP_TIMEOUT`` and ``OJA_HTTP_RETRIES``.
    The caller owns the client and closes it (``async with`` or ``aclose()``).
    """
    if timeout is None or retries is None:
        settings = HttpSettings()
        timeout = settings.http_timeout if timeout is None else timeout
        retries = settings.http_retries if retries is None else retries
    inner = transport if transport is not None else httpx.AsyncHTTPTransport(verify=tls_context())
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout),
        transport=RetryTransport(inner, retries=retries),
        headers={"User-Agent": "oja", **(headers or {})},
        follow_redirects=False,
    )


class UnsafeUrl(BadRequest):
    """A user-supplied URL that Oja refuses to fetch."""

    code = CoreErrorCode.UNSAFE_URL


# NAT64 prefixes embed an IPv4 address in the low 32 bits (RFC 6052, RFC 8215).
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True only for globally routable unicast addresses, looking through IPv6 wrappers of IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64_WELL_KNOWN:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
        if embedded is not None:
            return is_public_address(embedded)
        if address in _NAT64_LOCAL_USE:
            return False
    return address.is_global and not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


async def check_public_url(url: str, *, allow_hosts: Collection[str] = ()) -> str:
    """Return ``url`` normalised if it is safe to fetch for a user, else raise :class:`UnsafeUrl`.

    Safe means: http or https, no userinfo, and every address the host resolves to is public
    (see :func:`is_public_address`). A host named in ``allow_hosts`` (exact, case-insensitive)
    skips the address check, which is how the sandbox's local fakes are reached. Fetch the returned
    string, not the input, so the client sees exactly what was checked.
    """
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise _refuse("invalid", "The URL is not valid.") from exc
    if parsed.scheme not in ("http", "https"):
        raise _refuse("scheme", "Only http and https URLs are allowed.")
    if parsed.userinfo:
        raise _refuse("userinfo", "URLs with a user name or password are not allowed.")
    host = parsed.raw_host.decode("ascii").rstrip(".").lower()  # IDNA-encoded, as sent
    if not host:
        raise _refuse("invalid", "The URL has no host.")
    if host in {allowed.rstrip(".").lower() for allowed in allow_hosts}:
        return str(parsed)
    for address in await _resolve(host, parsed.port or (443 if parsed.scheme == "https" else 80)):
        if not is_public_address(address):
            raise _refuse("private_address", "The URL points to a private or reserved address.")
    return str(parsed)


async def _resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise _refuse("unresolvable", "The URL's host cannot be resolved.") from exc
    addresses = []
    for _family, _type, _proto, _canonname, sockaddr in infos:
        # IPv6 link-local answers may carry a zone ("fe80::1%eth0"), which ip_address rejects.
        addresses.append(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
    if not addresses:
        raise _refuse("unresolvable", "The URL's host cannot be resolved.")
    return addresses


def _refuse(reason: str, message: str) -> UnsafeUrl:
    return UnsafeUrl(message, details={"reason": reason})
