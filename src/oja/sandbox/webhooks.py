"""Webhook delivery for the payment fakes, with the failure modes real providers show.

A :class:`WebhookSender` posts a signed body to the configured URL and records ``(event, answer
status)`` (None: unreachable). Knobs: :meth:`hold` keeps deliveries back (late) until :meth:`release`,
which can send them in reverse order (out of order); :meth:`duplicate_next` sends the next delivery
several times, byte for byte (duplicates).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from oja.core.http import tls_context


@dataclass(frozen=True, slots=True)
class Outgoing:
    event: str
    body: bytes
    headers: dict[str, str]


class WebhookSender:
    def __init__(self, url: str | None, sign: Callable[[bytes], dict[str, str]]) -> None:
        self.url = url
        self._sign = sign
        self.deliveries: list[tuple[str, int | None]] = []
        """``(event, webhook answer status)`` for every delivery attempted (None: unreachable)."""
        self.sent: list[Outgoing] = []
        self._held: list[Outgoing] = []
        self._holding = False
        self._copies = 1
        self._lock = threading.Lock()

    def hold(self) -> None:
        """Keep every delivery back until :meth:`release` (a late webhook)."""
        self._holding = True

    def duplicate_next(self, copies: int = 2) -> None:
        """The next delivery goes out ``copies`` times, identical."""
        self._copies = copies

    @property
    def held(self) -> list[Outgoing]:
        return list(self._held)

    async def release(self, *, reverse: bool = False) -> list[int | None]:
        """Send what was held, oldest first (``reverse``: newest first, out of order)."""
        with self._lock:
            held, self._held, self._holding = self._held, [], False
        if reverse:
            held.reverse()
        return [await self._post(item) for item in held]

    async def send(self, event: str, body: bytes) -> int | None:
        """Sign and deliver (or hold) ``body``; the last answer status of its copies."""
        item = Outgoing(event, body, {"content-type": "application/json", **self._sign(body)})
        with self._lock:
            copies, self._copies = self._copies, 1
            if self._holding:
                self._held.extend([item] * copies)
                return None
        status: int | None = None
        for _ in range(copies):
            status = await self._post(item)
        return status

    async def _post(self, item: Outgoing) -> int | None:
        status: int | None = None
        if self.url:
            try:
                async with httpx.AsyncClient(timeout=30, verify=tls_context()) as client:
                    answer = await client.post(self.url, content=item.body, headers=item.headers)
                status = answer.status_code
            except httpx.HTTPError:
                status = None
        self.sent.append(item)
        self.deliveries.append((item.event, status))
        return status
