from __future__ import annotations

import smtplib
import socket
from email.message import EmailMessage, Message
from typing import Any

import httpx
import pytest

from oja.sandbox import smtp as smtp_module
from oja.sandbox.server import SandboxServer
from oja.sandbox.smtp import SmtpCapture


def test_captures_mail_and_serves_the_inbox() -> None:
    message = EmailMessage()
    message["From"] = "Oja <no-reply@oja.test>"
    message["To"] = "ada@example.com"
    message["Subject"] = "Your code"
    message["Message-ID"] = "<1@oja.test>"
    message.set_content("Code: 123456")
    message.add_alternative("<p>Code: <b>123456</b></p>", subtype="html")

    with SmtpCapture() as smtp, SandboxServer(smtp.app) as inbox:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=5) as client:
            client.send_message(message, to_addrs=["ada@example.com", "bcc@example.com"])
        listed = httpx.get(f"{inbox.url}/messages").json()
        page = httpx.get(f"{inbox.url}/")

    assert listed == {
        "messages": [
            {
                "mail_from": "no-reply@oja.test",
                "rcpt_tos": ["ada@example.com", "bcc@example.com"],
                "from": "Oja <no-reply@oja.test>",
                "to": "ada@example.com",
                "subject": "Your code",
                "text": "Code: 123456\n",
                "html": "<p>Code: <b>123456</b></p>\n",
                "message_id": "<1@oja.test>",
                "received_at": listed["messages"][0]["received_at"],
                "tls": False,
                "authenticated_as": None,
            }
        ]
    }
    assert page.status_code == 200
    assert "Your code" in page.text


def test_clear_and_restart_on_a_fresh_port() -> None:
    smtp = SmtpCapture()
    with smtp:
        first_port = smtp.port
        with smtplib.SMTP(smtp.host, smtp.port, timeout=5) as client:
            client.sendmail("a@example.com", ["b@example.com"], b"Subject: x\r\n\r\nbody\r\n")
        assert [m.subject for m in smtp.messages] == ["x"]
        smtp.clear()
        assert smtp.messages == []
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP(smtp.host, first_port, timeout=5)


def test_credentials_need_tls() -> None:
    with pytest.raises(ValueError, match="credentials need a tls_context"):
        SmtpCapture(credentials=("u", "p"))


def test_mime_is_parsed_when_the_inbox_is_read_once_each(monkeypatch: pytest.MonkeyPatch) -> None:
    """Taking a message costs no MIME parsing (~4 CPU ms each); reading the inbox parses each
    message once, and the greeting names the host as before (its FQDN)."""
    parses: list[bytes] = []
    parse = smtp_module.message_from_bytes

    def counted(raw: bytes, **kwargs: Any) -> Message:
        parses.append(raw)
        return parse(raw, **kwargs)

    monkeypatch.setattr(smtp_module, "message_from_bytes", counted)
    with SmtpCapture() as smtp:
        for n in range(2):
            with smtplib.SMTP(smtp.host, smtp.port, timeout=5) as client:
                code, greeting = client.ehlo()
                client.sendmail("a@example.com", ["b@example.com"], f"Subject: {n}\r\n\r\nb\r\n")
        assert code == 250
        assert greeting.decode().splitlines()[0] == socket.getfqdn()
        assert parses == []
        assert [m.subject for m in smtp.messages] == ["0", "1"]
        assert [m.text for m in smtp.messages] == ["b\n", "b\n"]
    assert len(parses) == 2
