"""The HTTP edge the provider adapters share: send, classify the failure, read JSON without floats.

A 429 is rate limited (``Retry-After`` read when present), a 5xx / timeout / refused connection /
non-JSON answer is unavailable; everything else comes back as ``(status, body)`` for the adapter to
read its own envelope. JSON numbers with a fraction are read as :class:`~decimal.Decimal`, so a
major-unit amount such as ``100.50`` never passes through binary floating point.

**One connection pool per process.** An adapter built without a ``transport`` sends through the
httpx client its runtime keeps for that provider account (base URL, key, timeout, retries), made on
first use and closed with the runtime (:meth:`oja.core.runtime.Runtime.close`, which the app's
shutdown, each worker and each test's app call); closing the adapter leaves that client open.
A checkout used to open a client per payment: a new TCP (and, live, TLS) connection to the
provider every time. Outside a request or job (no current runtime) an adapter keeps its own
client, closed with it.
"""

from __future__ import annotations

import json
import weakref
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, ClassVar

import httpx

from oja.billing.providers.port import ProviderCallRateLimited, ProviderCallUnavailable
from oja.core.db import Database
from oja.core.http import Closing, create_http_client, retry_after_seconds
from oja.core.runtime import current_runtime


class Unavailable(ProviderCallUnavailable):
    pass


async def send(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    provider: str,
    label: str,
    json_body: Any = None,
    params: dict[str, Any] | None = None,
    unavailable: type[ProviderCallUnavailable] = Unavailable,
    rate_limited: type[ProviderCallRateLimited] = ProviderCallRateLimited,
) -> tuple[int, dict[str, Any]]:
    try:
        response = await http.request(method, path, json=json_body, params=params)
    except httpx.HTTPError as exc:
        raise unavailable(
            f"{label} could not be reached ({type(exc).__name__}).", provider=provider
        ) from exc
    payload = _json(response.content)
    if response.status_code == 429:
        message = str((payload or {}).get("message") or f"{label} is rate limiting this server.")
        raise rate_limited(
            message,
            provider=provider,
            retry_after=retry_after_seconds(response.headers.get("retry-after")),
            provider_code=_text((payload or {}).get("code")),
        )
    if response.status_code >= 500:
        raise unavailable(
            f"{label} answered {response.status_code}.",
            provider=provider,
            status_code=response.status_code,
        )
    if payload is None:
        raise unavailable(
            f"{label} answered with something that is not a JSON object.", provider=provider
        )
    return response.status_code, payload


def _json(content: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(content, parse_float=Decimal)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


PoolKey = tuple[str, str, float | None, int | None]
"""(base URL, secret key, timeout, retries): the account and policy a pooled client serves."""
_pools: weakref.WeakKeyDictionary[Database, dict[PoolKey, httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)
"""By the runtime's database, as the realtime hub keys its own (a runtime is not hashable)."""


def _pooled(key: PoolKey) -> httpx.AsyncClient | None:
    """The current runtime's client for ``key`` (made on first use), or None outside a request
    or job."""
    try:
        runtime = current_runtime()
    except RuntimeError:
        return None
    pool = _pools.get(runtime.database)
    if pool is None:
        pool = _pools[runtime.database] = {}
        runtime.closers.append(_closer(runtime.database))
    client = pool.get(key)
    if client is None or client.is_closed:
        base_url, secret_key, timeout, retries = key
        client = pool[key] = _client(base_url, secret_key, None, timeout, retries)
    return client


def _closer(database: Database) -> Callable[[], Awaitable[None]]:
    ref = weakref.ref(database)

    async def close() -> None:
        owner = ref()
        for client in (_pools.pop(owner, {}) if owner is not None else {}).values():
            await client.aclose()

    return close


def _client(
    base_url: str,
    secret_key: str,
    transport: httpx.AsyncBaseTransport | None,
    timeout: float | None,
    retries: int | None,
) -> httpx.AsyncClient:
    return create_http_client(
        base_url=base_url,
        transport=transport,
        timeout=timeout,
        retries=retries,
        headers={"Authorization": f"Bearer {secret_key}"},
    )


class BearerJsonClient(Closing, ABC):
    """What both adapters share: a bearer-key httpx client and the object / list readers over the
    adapter's own :meth:`_call` (which reads its provider's envelope)."""

    name: ClassVar[str]
    unavailable: ClassVar[type[ProviderCallUnavailable]] = Unavailable

    def __init__(
        self,
        *,
        base_url: str,
        secret_key: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | None = None,
        retries: int | None = None,
    ) -> None:
        base_url = base_url.rstrip("/")
        pooled = None
        if transport is None:
            pooled = _pooled((base_url, secret_key, timeout, retries))
        self._owned = pooled is None
        self._http = pooled or _client(base_url, secret_key, transport, timeout, retries)

    async def aclose(self) -> None:
        if self._owned:  # a pooled client stays open for the next adapter
            await self._http.aclose()

    @abstractmethod
    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """One request, the provider's envelope unwrapped: each adapter reads its own."""

    async def _object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        data = await self._call(method, path, **kwargs)
        if not isinstance(data, dict):
            raise self.unavailable(f"The {self.name} answer has no data.", provider=self.name)
        return data

    async def _list(self, method: str, path: str, **kwargs: Any) -> list[dict[str, Any]]:
        data = await self._call(method, path, **kwargs)
        if not isinstance(data, list):
            raise self.unavailable(f"The {self.name} answer has no list.", provider=self.name)
        return [item for item in data if isinstance(item, dict)]
