"""What the HTTP adapters share: one POST that turns transport failures into
:class:`~oja.channels.errors.DeliveryFailed`, and reading a provider's error message."""

from __future__ import annotations

from typing import Any

import httpx

from oja.channels.errors import DeliveryFailed
from oja.core.http import tls_context


def provider_client(
    base_url: str,
    *,
    timeout: float,
    transport: httpx.AsyncBaseTransport | None,
    headers: dict[str, str] | None = None,
    auth: httpx.Auth | None = None,
) -> httpx.AsyncClient:
    """The client of one provider adapter: its base URL, one timeout for every phase, JSON answers.

    Without a ``transport`` it sends over the process's shared TLS context
    (:func:`oja.core.http.tls_context`, httpx's own default, built once): httpx's default client
    loads the CA bundle again for every client, several ms of CPU per adapter."""
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"),
        timeout=httpx.Timeout(timeout),
        transport=transport
        if transport is not None
        else httpx.AsyncHTTPTransport(verify=tls_context()),
        headers={"Accept": "application/json", **(headers or {})},
        auth=auth,
    )


async def post(client: httpx.AsyncClient, provider: str, url: str, **kwargs: Any) -> httpx.Response:
    """POST once (sends are not idempotent: the adapter never retries, the calling job decides).

    A connection that was never made fails retryably; a request that went out and got no answer
    fails retryably *and* ``maybe_sent``: the provider may have accepted it.
    """
    try:
        return await client.post(url, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise DeliveryFailed(
            provider, f"unreachable ({type(exc).__name__})", retryable=True
        ) from exc
    except httpx.TimeoutException as exc:
        raise DeliveryFailed(provider, "timed out", retryable=True, maybe_sent=True) from exc
    except httpx.TransportError as exc:
        raise DeliveryFailed(
            provider, f"no answer ({type(exc).__name__})", retryable=True, maybe_sent=True
        ) from exc


def refused(provider: str, response: httpx.Response, message: str) -> DeliveryFailed:
    """The provider answered with an error: retryable on 429 and 5xx."""
    return DeliveryFailed(
        provider,
        message,
        provider_status=response.status_code,
        retryable=response.status_code == 429 or response.status_code >= 500,
    )


def json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def provider_message(payload: dict[str, Any], response: httpx.Response) -> str:
    """The provider's own words: ``message`` or ``error``, SendGrid's ``errors[0].message``, else
    the start of the body."""
    message = payload.get("message") or payload.get("error")
    errors = payload.get("errors")
    if not message and isinstance(errors, list) and errors and isinstance(errors[0], dict):
        message = errors[0].get("message")
    if isinstance(message, str) and message:
        return message
    text = response.text.strip()
    return text[:200] if text else f"HTTP {response.status_code}"
