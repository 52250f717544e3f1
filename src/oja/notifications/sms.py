"""SMS adapters: the console (development) and Termii, plus the factory that picks one."""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from oja.core.config import UnsafeSettingsError
from oja.notifications.config import NotificationSettings
from oja.notifications.errors import DeliveryFailed
from oja.notifications.ports import DeliveryReceipt, SmsSender

log = structlog.get_logger("oja.notifications")


@dataclass(frozen=True, slots=True)
class ConsoleSmsMessage:
    to: str
    text: str
    message_id: str


class ConsoleSms:
    """Logs each message, text included, and keeps the last ``keep`` in memory.

    Showing the text (an OTP, a link) is the point in development, which is why production refuses
    this adapter (:meth:`NotificationSettings.production_problems`).
    """

    provider = "console"

    def __init__(self, *, keep: int = 50) -> None:
        self._outbox: deque[ConsoleSmsMessage] = deque(maxlen=keep)

    @property
    def messages(self) -> list[ConsoleSmsMessage]:
        """Messages sent so far, oldest first (at most ``keep``)."""
        return list(self._outbox)

    async def send(self, to_e164: str, text: str) -> DeliveryReceipt:
        message_id = f"console-{secrets.token_hex(8)}"
        self._outbox.append(ConsoleSmsMessage(to=to_e164, text=text, message_id=message_id))
        log.info("notifications.sms.console", to=to_e164, text=text, message_id=message_id)
        return DeliveryReceipt(provider=self.provider, recipient=to_e164, message_id=message_id)

    async def aclose(self) -> None:
        return None


class TermiiSms:
    """Termii's Messaging API (``POST {base}/api/sms/send``, API key in the JSON body).

    Termii wants the number in international form without the plus (``2348012345678``). The client
    does not retry: a POST that timed out may still have been sent, so the job decides.
    """

    provider = "termii"

    def __init__(
        self,
        *,
        api_key: str,
        sender_id: str,
        base_url: str = "https://api.ng.termii.com",
        channel: str = "generic",
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._api_key = api_key
        self._sender_id = sender_id
        self._channel = channel
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"Accept": "application/json"},
        )

    async def send(self, to_e164: str, text: str) -> DeliveryReceipt:
        body = {
            "to": to_e164.removeprefix("+"),
            "from": self._sender_id,
            "sms": text,
            "type": "plain",
            "channel": self._channel,
            "api_key": self._api_key,
        }
        try:
            response = await self._client.post("/api/sms/send", json=body)
        except httpx.TimeoutException as exc:
            raise DeliveryFailed(self.provider, "timed out", retryable=True) from exc
        except httpx.TransportError as exc:
            raise DeliveryFailed(
                self.provider, f"unreachable ({type(exc).__name__})", retryable=True
            ) from exc
        payload = _json_object(response)
        if response.is_error:
            raise DeliveryFailed(
                self.provider,
                _provider_message(payload, response),
                provider_status=response.status_code,
                retryable=response.status_code == 429 or response.status_code >= 500,
            )
        message_id = payload.get("message_id")
        if not message_id:
            raise DeliveryFailed(
                self.provider,
                _provider_message(payload, response),
                provider_status=response.status_code,
            )
        log.info("notifications.sms.sent", provider=self.provider, message_id=str(message_id))
        return DeliveryReceipt(
            provider=self.provider, recipient=to_e164, message_id=str(message_id)
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _provider_message(payload: dict[str, Any], response: httpx.Response) -> str:
    message = payload.get("message") or payload.get("error")
    if isinstance(message, str) and message:
        return message
    text = response.text.strip()
    return text[:200] if text else f"HTTP {response.status_code}"


def create_sms_sender(
    settings: NotificationSettings,
    *,
    production: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> SmsSender:
    """The configured SMS adapter; refuses the console adapter in production."""
    if settings.sms_provider == "termii":
        if settings.sms_api_key is None:
            raise UnsafeSettingsError("OJA_SMS_API_KEY must be set when OJA_SMS_PROVIDER=termii")
        return TermiiSms(
            api_key=settings.sms_api_key.get_secret_value(),
            sender_id=settings.sms_sender_id,
            base_url=settings.sms_base_url,
            channel=settings.sms_channel,
            timeout=settings.sms_timeout,
            transport=transport,
        )
    if production:
        raise UnsafeSettingsError("OJA_SMS_PROVIDER must not be 'console' in production")
    return ConsoleSms()
