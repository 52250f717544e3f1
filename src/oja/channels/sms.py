"""SMS adapters: the console (development), Termii and Twilio, plus the factory that picks one."""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass

import httpx
import structlog

from oja.channels.config import ChannelSettings
from oja.channels.errors import DeliveryFailed
from oja.channels.httpapi import json_object, post, provider_client, provider_message, refused
from oja.channels.ports import DeliveryReceipt, SmsSender
from oja.core.config import UnsafeSettingsError

log = structlog.get_logger("oja.channels")


@dataclass(frozen=True, slots=True)
class ConsoleSmsMessage:
    to: str
    text: str
    message_id: str


class ConsoleSms:
    """Logs each message, text included, and keeps the last ``keep`` in memory.

    Showing the text (an OTP, a link) is the point in development, which is why production refuses
    this adapter (:meth:`ChannelSettings.production_problems`).
    """

    provider = "console"

    def __init__(self, *, keep: int = 50) -> None:
        self._outbox: deque[ConsoleSmsMessage] = deque(maxlen=keep)

    @property
    def messages(self) -> list[ConsoleSmsMessage]:
        """Messages sent so far, oldest first (at most ``keep``)."""
        return list(self._outbox)

    async def send(
        self, to_e164: str, text: str, *, reference: str | None = None
    ) -> DeliveryReceipt:
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
        self._client = provider_client(base_url, timeout=timeout, transport=transport)

    async def send(
        self, to_e164: str, text: str, *, reference: str | None = None
    ) -> DeliveryReceipt:
        body = {
            "to": to_e164.removeprefix("+"),
            "from": self._sender_id,
            "sms": text,
            "type": "plain",
            "channel": self._channel,
            "api_key": self._api_key,
        }
        response = await post(self._client, self.provider, "/api/sms/send", json=body)
        payload = json_object(response)
        if response.is_error:
            raise refused(self.provider, response, provider_message(payload, response))
        message_id = payload.get("message_id")
        if not message_id:
            raise DeliveryFailed(
                self.provider,
                provider_message(payload, response),
                provider_status=response.status_code,
            )
        log.info("notifications.sms.sent", provider=self.provider, message_id=str(message_id))
        return DeliveryReceipt(
            provider=self.provider, recipient=to_e164, message_id=str(message_id)
        )

    async def aclose(self) -> None:
        await self._client.aclose()


class TwilioSms:
    """Twilio's Messages API (``POST {base}/2010-04-01/Accounts/{sid}/Messages.json``).

    HTTP Basic auth (Account SID and Auth Token), a form-encoded body with PascalCase names, a JSON
    Message resource back (201; any 2xx counts). ``sender`` is a number or alphanumeric ID
    (``From``) or a Messaging Service (``MG…``, sent as ``MessagingServiceSid``). With a
    ``status_callback`` URL Twilio posts the message's later statuses there, signed.
    """

    provider = "twilio"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        sender: str,
        base_url: str = "https://api.twilio.com",
        status_callback: str | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._account_sid = account_sid
        self._sender = sender
        self._status_callback = status_callback
        self._client = provider_client(
            base_url,
            timeout=timeout,
            transport=transport,
            auth=httpx.BasicAuth(account_sid, auth_token),
        )

    async def send(
        self, to_e164: str, text: str, *, reference: str | None = None
    ) -> DeliveryReceipt:
        form = {"To": to_e164, "Body": text}
        if self._sender.startswith("MG"):
            form["MessagingServiceSid"] = self._sender
        else:
            form["From"] = self._sender
        if self._status_callback:
            form["StatusCallback"] = self._status_callback
        path = f"/2010-04-01/Accounts/{self._account_sid}/Messages.json"
        response = await post(self._client, self.provider, path, data=form)
        payload = json_object(response)
        if response.is_error:
            message = provider_message(payload, response)
            code = payload.get("code")
            raise refused(self.provider, response, f"{code}: {message}" if code else message)
        sid = payload.get("sid")
        if not isinstance(sid, str) or not sid:
            raise DeliveryFailed(
                self.provider, "no message sid in the answer", provider_status=response.status_code
            )
        log.info("notifications.sms.sent", provider=self.provider, message_id=sid)
        return DeliveryReceipt(provider=self.provider, recipient=to_e164, message_id=sid)

    async def aclose(self) -> None:
        await self._client.aclose()


def create_sms_sender(
    settings: ChannelSettings,
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
    if settings.sms_provider == "twilio":
        if not (
            settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from
        ):
            raise UnsafeSettingsError(
                "OJA_TWILIO_ACCOUNT_SID, OJA_TWILIO_AUTH_TOKEN and OJA_TWILIO_FROM must be set "
                "when OJA_SMS_PROVIDER=twilio"
            )
        return TwilioSms(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            sender=settings.twilio_from,
            base_url=settings.twilio_base_url,
            status_callback=settings.twilio_status_callback_url,
            timeout=settings.twilio_timeout,
            transport=transport,
        )
    if production:
        raise UnsafeSettingsError("OJA_SMS_PROVIDER must not be 'console' in production")
    return ConsoleSms()
