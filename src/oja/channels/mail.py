"""Email adapters: the console (development), SMTP and SendGrid, plus the factory that picks one."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import smtplib
import ssl
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime, make_msgid, parseaddr

import httpx
import structlog

from oja.channels.config import ChannelSettings
from oja.channels.errors import DeliveryFailed
from oja.channels.httpapi import json_object, post, provider_client, provider_message, refused
from oja.channels.ports import DeliveryReceipt, EmailSender
from oja.core.config import UnsafeSettingsError

log = structlog.get_logger("oja.channels")


@dataclass(frozen=True, slots=True)
class ConsoleEmailMessage:
    to: str
    subject: str
    text: str
    html: str | None
    message_id: str
    headers: dict[str, str]


class ConsoleEmail:
    """Logs each email, body included, and keeps the last ``keep`` in memory (development only)."""

    provider = "console"

    def __init__(self, *, keep: int = 50) -> None:
        self._outbox: deque[ConsoleEmailMessage] = deque(maxlen=keep)

    @property
    def messages(self) -> list[ConsoleEmailMessage]:
        """Emails sent so far, oldest first (at most ``keep``)."""
        return list(self._outbox)

    async def send(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        *,
        reference: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> DeliveryReceipt:
        message_id = make_msgid(domain="console.oja.local")
        self._outbox.append(
            ConsoleEmailMessage(
                to=to,
                subject=subject,
                text=text,
                html=html,
                message_id=message_id,
                headers=dict(headers or {}),
            )
        )
        log.info(
            "notifications.email.console", to=to, subject=subject, text=text, message_id=message_id
        )
        return DeliveryReceipt(provider=self.provider, recipient=to, message_id=message_id)

    async def aclose(self) -> None:
        return None


class SmtpEmail:
    """Sends through an SMTP server with the standard library, in a worker thread.

    One connection per message: notification email is low volume, and a fresh connection never
    trips over a server that closed an idle one. With ``use_tls`` the session is upgraded with
    STARTTLS (certificate verified against ``ssl_context``, the system store by default) before
    any credentials are sent.
    """

    provider = "smtp"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        use_tls: bool = True,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username
        self._password = password
        self._use_tls = use_tls
        self._timeout = timeout
        self._ssl_context = ssl_context
        self._domain = _domain_of(sender)

    def build_message(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> EmailMessage:
        message = EmailMessage(policy=_POLICY)
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
        message["Message-ID"] = make_msgid(domain=self._domain)
        for name, value in (headers or {}).items():
            message[name] = value
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
        return message

    async def send(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        *,
        reference: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> DeliveryReceipt:
        message = self.build_message(to, subject, text, html, headers)
        await asyncio.to_thread(self._deliver, message)
        message_id = message["Message-ID"]
        log.info("notifications.email.sent", provider=self.provider, message_id=message_id)
        return DeliveryReceipt(provider=self.provider, recipient=to, message_id=message_id)

    def _deliver(self, message: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                if self._use_tls:
                    smtp.starttls(context=self._ssl_context or _system_tls_context())
                if self._username:
                    smtp.login(self._username, self._password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            refused = "; ".join(
                f"{rcpt}: {code} {_decode(reply)}" for rcpt, (code, reply) in exc.recipients.items()
            )
            raise DeliveryFailed(self.provider, f"recipient refused ({refused})") from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(
                self.provider,
                f"{exc.smtp_code} {_decode(exc.smtp_error)}",
                provider_status=exc.smtp_code,
                retryable=400 <= exc.smtp_code < 500,
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:  # e.g. STARTTLS required but not offered
            raise DeliveryFailed(self.provider, str(exc)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Connection refused, TLS failure, timeout, server hung up.
            raise DeliveryFailed(
                self.provider, f"{type(exc).__name__}: {exc}", retryable=True
            ) from exc

    async def aclose(self) -> None:
        return None


REFERENCE_ARG = "oja_reference"
"""The ``custom_args`` key carrying the caller's reference; SendGrid echoes it on every event."""


class SendGridEmail:
    """SendGrid's v3 Mail Send (``POST {base}/v3/mail/send``, ``Authorization: Bearer <key>``).

    One personalization per message (never several recipients in one ``to``), plain text first and
    HTML second as SendGrid requires. 202 means accepted, not delivered: delivery arrives later on
    the Event Webhook, correlated by ``X-Message-Id`` and the ``reference`` echoed from
    ``custom_args``.
    """

    provider = "sendgrid"

    def __init__(
        self,
        *,
        api_key: str,
        sender: str,
        base_url: str = "https://api.sendgrid.com",
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        name, address = parseaddr(sender)
        self._from: dict[str, str] = {"email": address or sender}
        if name:
            self._from["name"] = name
        self._client = provider_client(
            base_url,
            timeout=timeout,
            transport=transport,
            headers={"Authorization": f"Bearer {api_key}"},
        )

    def build_body(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None,
        reference: str | None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, object]:
        personalization: dict[str, object] = {"to": [{"email": to}]}
        if reference:
            personalization["custom_args"] = {REFERENCE_ARG: reference}
        if headers:
            personalization["headers"] = dict(headers)
        content = [{"type": "text/plain", "value": text}]
        if html is not None:
            content.append({"type": "text/html", "value": html})
        return {
            "personalizations": [personalization],
            "from": self._from,
            "subject": subject,
            "content": content,
        }

    async def send(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        *,
        reference: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> DeliveryReceipt:
        body = self.build_body(to, subject, text, html, reference, headers=headers)
        response = await post(self._client, self.provider, "/v3/mail/send", json=body)
        if response.is_error:
            raise refused(
                self.provider, response, provider_message(json_object(response), response)
            )
        message_id = response.headers.get("x-message-id")
        log.info("notifications.email.sent", provider=self.provider, message_id=message_id)
        return DeliveryReceipt(provider=self.provider, recipient=to, message_id=message_id)

    async def aclose(self) -> None:
        await self._client.aclose()


class _RepeatingHeaders(HeaderRegistry):
    """The default header registry, except that a header whose value repeats from one message to
    the next (the sender, ``MIME-Version`` and each part's ``Content-Type`` and
    ``Content-Transfer-Encoding``) is parsed once per process, and each header class is composed
    once: parsing them again and making a class per header was most of building an email. A parsed header is immutable (a ``str`` with its parse tree), so one
    object can sit in many messages; the bytes sent are the same."""

    REPEATING = frozenset({"from", "mime-version", "content-type", "content-transfer-encoding"})

    def __init__(self) -> None:
        super().__init__()
        self._parsed = functools.lru_cache(maxsize=256)(super().__call__)
        self._classes: dict[type, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        """The header class for ``name``, composed once per registered class: the registry's own
        ``__getitem__`` creates a new class each time, for every header set or counted."""
        registered = self.registry.get(name.lower(), self.default_class)
        composed = self._classes.get(registered)
        if composed is None:
            composed = self._classes[registered] = super().__getitem__(name)
        return composed

    def __call__(self, name: str, value: str) -> BaseHeader:
        if name.lower() in self.REPEATING and type(value) is str:
            return self._parsed(name, value)
        return super().__call__(name, value)


_POLICY = default_policy.clone(header_factory=_RepeatingHeaders())
"""``email.policy.default`` (what ``EmailMessage()`` uses) with :class:`_RepeatingHeaders`."""


def _decode(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


@functools.cache
def _system_tls_context() -> ssl.SSLContext:
    """STARTTLS's default context (the system store), built once per process: a new one per
    message loaded the CA store again each time. A context is safe to share between threads."""
    return ssl.create_default_context()


def _domain_of(sender: str) -> str:
    address = parseaddr(sender)[1]
    try:
        domain = Address(addr_spec=address).domain
    except (ValueError, IndexError):
        return "oja.local"
    return domain or "oja.local"


def create_email_sender(
    settings: ChannelSettings,
    *,
    production: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> EmailSender:
    """The configured email adapter; refuses the console adapter in production."""
    if settings.email_provider == "sendgrid":
        if settings.sendgrid_api_key is None:
            raise UnsafeSettingsError(
                "OJA_SENDGRID_API_KEY must be set when OJA_EMAIL_PROVIDER=sendgrid"
            )
        return SendGridEmail(
            api_key=settings.sendgrid_api_key.get_secret_value(),
            sender=settings.email_from,
            base_url=settings.sendgrid_base_url,
            timeout=settings.sendgrid_timeout,
            transport=transport,
        )
    if settings.email_provider == "smtp":
        return SmtpEmail(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.email_from,
            username=settings.smtp_username,
            password=(
                settings.smtp_password.get_secret_value() if settings.smtp_password else None
            ),
            use_tls=settings.smtp_use_tls,
            timeout=settings.smtp_timeout,
        )
    if production:
        raise UnsafeSettingsError("OJA_EMAIL_PROVIDER must not be 'console' in production")
    return ConsoleEmail()
