"""The delivery ports every other module talks to, and what a send returns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """Proof that a provider accepted a message (not that it reached the recipient)."""

    provider: str
    recipient: str
    message_id: str | None
    accepted_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


class SmsSender(Protocol):
    """Sends one text message to one phone number in E.164 form (``+2348012345678``).

    Raises :class:`~oja.channels.errors.DeliveryFailed` when the provider refuses it. Sends are
    not idempotent: the adapter never retries; the calling job does, on ``retryable`` failures.
    """

    async def send(
        self, to_e164: str, text: str, *, reference: str | None = None
    ) -> DeliveryReceipt: ...

    async def aclose(self) -> None: ...


class EmailSender(Protocol):
    """Sends one email with a plain-text body and an optional HTML alternative.

    Raises :class:`~oja.channels.errors.DeliveryFailed` when the server refuses it. ``reference``
    is the caller's id for the message, echoed in the provider's status events where it can be;
    ``headers`` are extra message headers (``List-Unsubscribe``).
    """

    async def send(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        *,
        reference: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> DeliveryReceipt: ...

    async def aclose(self) -> None: ...
