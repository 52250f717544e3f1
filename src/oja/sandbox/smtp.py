"""An SMTP server that keeps what it receives, and an inbox app to read it.

``SmtpCapture`` runs aiosmtpd on 127.0.0.1 (a free port by default). Optionally it offers STARTTLS
(``tls_context``) and requires ``AUTH`` with fixed ``credentials`` (only after STARTTLS, as aiosmtpd
insists). ``app`` serves ``GET /messages`` (JSON) and ``/`` (HTML inbox).
"""

from __future__ import annotations

import datetime as dt
import errno
import functools
import socket
import ssl
import threading
from dataclasses import asdict, dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from fastapi import FastAPI

from oja.sandbox.base import Lifecycle, add_inbox, fake_app


@dataclass(frozen=True, slots=True)
class CapturedEmail:
    mail_from: str
    """Envelope sender (``MAIL FROM``)."""
    rcpt_tos: tuple[str, ...]
    """Envelope recipients (``RCPT TO``)."""
    sender: str
    """The From header."""
    to: str
    """The To header."""
    subject: str
    text: str | None
    """The text/plain body, if any."""
    html: str | None
    """The text/html body, if any."""
    message_id: str | None
    received_at: str
    tls: bool
    """Whether the session was upgraded with STARTTLS."""
    authenticated_as: str | None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["rcpt_tos"] = list(self.rcpt_tos)
        data["from"] = data.pop("sender")
        return data


@dataclass(frozen=True, slots=True)
class _Received:
    """A message as the server took it at the end of DATA: the envelope, the session and the raw
    bytes. Its MIME is parsed (:meth:`parsed`, ~4 CPU ms with the modern email policy) only when
    the inbox is read: a capture nobody reads (the shopping day's) never pays for it."""

    raw: bytes
    mail_from: str
    rcpt_tos: tuple[str, ...]
    received_at: str
    tls: bool
    authenticated_as: str | None

    def parsed(self) -> CapturedEmail:
        # SMTP carries CRLF line endings; store bodies as a reader would see them.
        message = message_from_bytes(self.raw.replace(b"\r\n", b"\n"), policy=policy.default)
        return CapturedEmail(
            mail_from=self.mail_from,
            rcpt_tos=self.rcpt_tos,
            sender=str(message.get("From", "")),
            to=str(message.get("To", "")),
            subject=str(message.get("Subject", "")),
            text=_body(message, "plain"),
            html=_body(message, "html"),
            message_id=message.get("Message-ID"),
            received_at=self.received_at,
            tls=self.tls,
            authenticated_as=self.authenticated_as,
        )


class _Handler:
    def __init__(self, capture: SmtpCapture) -> None:
        self._capture = capture

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        login = session.auth_data if session.authenticated else None
        self._capture._store(
            _Received(
                raw=envelope.original_content or b"",
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                received_at=dt.datetime.now(dt.UTC).isoformat(),
                tls=session.ssl is not None,
                authenticated_as=login if isinstance(login, str) else None,
            )
        )
        return "250 Message accepted for delivery"


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None


class SmtpCapture(Lifecycle):
    """``with SmtpCapture() as smtp: ... smtp.port ... smtp.messages``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tls_context: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        if credentials is not None and tls_context is None:
            raise ValueError("credentials need a tls_context: AUTH is only offered after STARTTLS")
        self.host = host
        self.port = port
        self._tls_context = tls_context
        self._credentials = credentials
        self._messages: list[CapturedEmail | _Received] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        self.app = self._build_app()

    @property
    def messages(self) -> list[CapturedEmail]:
        with self._lock:
            parsed = [m.parsed() if isinstance(m, _Received) else m for m in self._messages]
            self._messages[:] = parsed  # each message is parsed once
            return list(parsed)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def _store(self, message: _Received) -> None:
        with self._lock:
            self._messages.append(message)

    def _authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and self._credentials is not None:
            login, password = self._credentials
            if auth_data.login == login.encode() and auth_data.password == password.encode():
                return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)

    def start(self) -> Self:
        if self._controller is not None:
            raise RuntimeError("SmtpCapture is already started")
        fixed_port = self.port != 0
        for _attempt in range(5):
            port = self.port if fixed_port else _free_port(self.host)
            controller = Controller(
                _Handler(self),
                hostname=self.host,
                port=port,
                tls_context=self._tls_context,
                # the name in the greeting and the EHLO answer, looked up once: aiosmtpd's
                # default is a blocking socket.getfqdn() per connection
                server_hostname=self._server_hostname(),
                require_starttls=self._tls_context is not None,
                authenticator=self._authenticate if self._credentials else None,
                auth_required=self._credentials is not None,
                auth_require_tls=True,
            )
            try:
                controller.start()
            except OSError as exc:
                # aiosmtpd cannot bind port 0 (it connects back to the port to check it is up), so a
                # free port is probed first; another process may take it in between: try again.
                if fixed_port or exc.errno != errno.EADDRINUSE:
                    raise
                continue
            self.port = port
            self._controller = controller
            return self
        raise RuntimeError("SmtpCapture found no free port")

    @staticmethod
    @functools.cache
    def _server_hostname() -> str:
        return socket.getfqdn()

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def _build_app(self) -> FastAPI:
        app = fake_app("SMTP inbox")

        add_inbox(
            app,
            title="Email inbox (SMTP sandbox)",
            columns=["When", "From", "To", "Subject", "Text"],
            messages=lambda: self.messages,
            cells=lambda m: [m.received_at, m.sender, m.to, m.subject, m.text or ""],
            clear=self.clear,
        )

        return app


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port
