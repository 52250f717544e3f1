"""How identity reaches a person: SMS and email through the notification ports.

An adapter is made per message and closed after it (sends are rare; nothing lingers past the
request or background task that made it). Texts carry codes and links, so nothing here logs them.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import structlog

from oja.channels.config import ChannelSettings
from oja.channels.errors import DeliveryFailed
from oja.channels.mail import create_email_sender
from oja.channels.ports import DeliveryReceipt
from oja.channels.sms import create_sms_sender
from oja.core.runtime import current_settings

log = structlog.get_logger("oja.identity")


@dataclass(frozen=True)
class Messenger:
    settings: ChannelSettings
    production: bool
    sms_transport: httpx.AsyncBaseTransport | None = None

    async def sms(self, to_e164: str, text: str) -> DeliveryReceipt:
        sender = create_sms_sender(
            self.settings, production=self.production, transport=self.sms_transport
        )
        try:
            return await sender.send(to_e164, text)
        finally:
            await sender.aclose()

    async def email(self, to: str, subject: str, text: str) -> DeliveryReceipt:
        sender = create_email_sender(self.settings, production=self.production)
        try:
            return await sender.send(to, subject, text)
        finally:
            await sender.aclose()

    async def email_quietly(self, to: str, subject: str, text: str, *, event: str) -> None:
        """Send from a background task: a failure is logged (without the text), never raised."""
        try:
            await self.email(to, subject, text)
        except DeliveryFailed as exc:
            log.warning(event, provider=exc.provider, retryable=exc.retryable)

    async def sms_quietly(self, to_e164: str, text: str, *, event: str) -> None:
        try:
            await self.sms(to_e164, text)
        except DeliveryFailed as exc:
            log.warning(event, provider=exc.provider, retryable=exc.retryable)


def get_notification_settings() -> ChannelSettings:
    """The process-wide delivery settings; a FastAPI dependency tests may override."""
    return current_settings().section(ChannelSettings)
