"""Downloading a product image from a URL a store gave (a bulk import), with the project's
outbound-HTTP protections: :func:`~oja.core.http.check_public_url` on the URL and on every
redirect target (no private, loopback or reserved addresses unless the host is listed in
``OJA_HTTP_ALLOW_PRIVATE_HOSTS``), a byte limit enforced while reading, one time limit for the
whole download, and the type sniffed from the bytes (never the server's ``Content-Type``).

:class:`ImageRefused` is final (the URL will not work by trying again: private address, 404, not
an image, too big); :class:`ImageUnavailable` may pass (a 5xx, a timeout, a refused connection).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from oja.core.http import UnsafeUrl, check_public_url, create_http_client
from oja.files.sniffing import IMAGE_TYPES, SNIFF_BYTES, sniff

# Answers that will not change on a retry; 408 and 429 (and every 5xx) may.
_TRANSIENT_CLIENT_ERRORS = frozenset({408, 425, 429})


class ImageRefused(Exception):
    """The URL does not give an image Oja will take; ``reason`` is a short stable word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ImageUnavailable(Exception):
    """The download failed in a way another attempt may not."""


@dataclass(frozen=True)
class FetchedImage:
    url: str
    """Where the bytes came from, after redirects."""
    data: bytes
    content_type: str
    """Sniffed from the bytes."""
    declared_content_type: str | None
    filename: str


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int
    timeout: float
    max_redirects: int
    allow_hosts: tuple[str, ...] = ()
    retries: int = 2
    """Retries of one GET on a refused connection, a read timeout, 429 and 502–504."""


async def fetch_image(
    url: str, limits: FetchLimits, *, transport: httpx.AsyncBaseTransport | None = None
) -> FetchedImage:
    """The image at ``url``; :class:`ImageRefused` or :class:`ImageUnavailable` otherwise."""
    try:
        async with asyncio.timeout(limits.timeout):
            return await _fetch(url, limits, transport)
    except TimeoutError as exc:
        raise ImageUnavailable(f"the download took longer than {limits.timeout:g} s") from exc
    except httpx.HTTPError as exc:
        raise ImageUnavailable(f"the download failed: {type(exc).__name__}") from exc


async def _fetch(
    url: str, limits: FetchLimits, transport: httpx.AsyncBaseTransport | None
) -> FetchedImage:
    current = url
    async with create_http_client(
        timeout=limits.timeout, retries=limits.retries, transport=transport
    ) as client:
        for _ in range(limits.max_redirects + 1):
            try:
                safe = await check_public_url(current, allow_hosts=limits.allow_hosts)
            except UnsafeUrl as exc:
                reason = (
                    exc.details.get("reason", "unsafe") if isinstance(exc.details, dict) else ""
                )
                raise ImageRefused(reason or "unsafe_url", exc.message) from exc
            async with client.stream("GET", safe, headers={"Accept": "image/*"}) as response:
                if response.is_redirect:
                    location = response.headers.get("location")
                    if not location:
                        raise ImageRefused("bad_redirect", "a redirect without a Location")
                    current = str(response.url.join(location))
                    continue
                _check_status(response.status_code)
                data = await _read(response, limits.max_bytes)
                declared = response.headers.get("content-type")
            if not data:
                raise ImageRefused("empty", "the URL answered no bytes")
            content_type = sniff(data[:SNIFF_BYTES])
            if content_type not in IMAGE_TYPES:
                raise ImageRefused("not_an_image", f"not an image (the bytes are {content_type})")
            name = httpx.URL(safe).path.rsplit("/", 1)[-1] or "image"
            return FetchedImage(safe, data, content_type, declared, name)
    raise ImageRefused("too_many_redirects", f"more than {limits.max_redirects} redirects")


def _check_status(status: int) -> None:
    if status == 200:
        return
    if status >= 500 or status in _TRANSIENT_CLIENT_ERRORS:
        raise ImageUnavailable(f"the server answered {status}")
    raise ImageRefused("http_status", f"the server answered {status}")


async def _read(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ImageRefused("too_big", f"the image is {declared} bytes, over {max_bytes}")
    buffer = bytearray()
    async for chunk in response.aiter_bytes():
        buffer += chunk
        if len(buffer) > max_bytes:
            raise ImageRefused("too_big", f"the image is over {max_bytes} bytes")
    return bytes(buffer)
