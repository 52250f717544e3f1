from __future__ import annotations

import copy
import datetime as dt
import io
import ipaddress
import ssl
from collections.abc import Iterator
from email.generator import BytesGenerator
from email.message import EmailMessage
from pathlib import Path

import pytest
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from oja.channels.config import ChannelSettings
from oja.channels.errors import DeliveryFailed
from oja.channels.mail import ConsoleEmail, SmtpEmail, create_email_sender
from oja.core.config import UnsafeSettingsError
from oja.notifications.templates import as_html
from oja.sandbox.smtp import CapturedEmail, SmtpCapture

SENDER = "Oja <no-reply@oja.test>"


@pytest.fixture
def smtp() -> Iterator[SmtpCapture]:
    with SmtpCapture() as capture:
        yield capture


def self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context for 127.0.0.1 and a client context that trusts only it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return server, client


async def test_smtp_delivers_exactly_one_message(smtp: SmtpCapture) -> None:
    sender = SmtpEmail(host=smtp.host, port=smtp.port, sender=SENDER, use_tls=False)
    receipt = await sender.send("ada@example.com", "Welcome to Oja", "Hello Ada,\nwelcome.")

    [captured] = smtp.messages
    assert captured == CapturedEmail(
        mail_from="no-reply@oja.test",
        rcpt_tos=("ada@example.com",),
        sender=SENDER,
        to="ada@example.com",
        subject="Welcome to Oja",
        text="Hello Ada,\nwelcome.\n",
        html=None,
        message_id=receipt.message_id,
        received_at=captured.received_at,
        tls=False,
        authenticated_as=None,
    )
    assert receipt.provider == "smtp"
    assert receipt.recipient == "ada@example.com"
    assert receipt.message_id is not None
    assert receipt.message_id.endswith("@oja.test>")


async def test_smtp_sends_the_html_alternative(smtp: SmtpCapture) -> None:
    sender = SmtpEmail(host=smtp.host, port=smtp.port, sender=SENDER, use_tls=False)
    await sender.send(
        "ada@example.com", "Reset", "Open the link", html="<p>Open the <a>link</a></p>"
    )

    [captured] = smtp.messages
    assert (captured.text, captured.html) == ("Open the link\n", "<p>Open the <a>link</a></p>\n")


def starttls_sender(smtp: SmtpCapture, context: ssl.SSLContext, *, password: str) -> SmtpEmail:
    """A sender that upgrades with STARTTLS (trusting ``context``) and logs in as ``mailer``."""
    return SmtpEmail(
        host=smtp.host,
        port=smtp.port,
        sender=SENDER,
        username="mailer",
        password=password,
        use_tls=True,
        ssl_context=context,
    )


async def test_smtp_starttls_then_login(tmp_path: Path) -> None:
    server_ctx, client_ctx = self_signed(tmp_path)
    with SmtpCapture(tls_context=server_ctx, credentials=("mailer", "s3cret")) as smtp:
        sender = starttls_sender(smtp, client_ctx, password="s3cret")
        await sender.send("ada@example.com", "Secure", "Over TLS")
        messages = smtp.messages

    assert [(m.subject, m.tls, m.authenticated_as) for m in messages] == [
        ("Secure", True, "mailer")
    ]


async def test_smtp_wrong_password_is_not_retryable(tmp_path: Path) -> None:
    server_ctx, client_ctx = self_signed(tmp_path)
    with SmtpCapture(tls_context=server_ctx, credentials=("mailer", "s3cret")) as smtp:
        sender = starttls_sender(smtp, client_ctx, password="wrong")
        with pytest.raises(DeliveryFailed) as caught:
            await sender.send("ada@example.com", "Secure", "Over TLS")
        messages = smtp.messages

    assert caught.value.provider_status == 535
    assert caught.value.provider_message == "535 5.7.8 Authentication credentials invalid"
    assert caught.value.retryable is False
    assert messages == []


async def test_smtp_untrusted_certificate_fails_before_sending(tmp_path: Path) -> None:
    server_ctx, _ = self_signed(tmp_path)
    with SmtpCapture(tls_context=server_ctx) as smtp:
        sender = SmtpEmail(host=smtp.host, port=smtp.port, sender=SENDER, use_tls=True)
        with pytest.raises(DeliveryFailed) as caught:
            await sender.send("ada@example.com", "Secure", "Over TLS")
        messages = smtp.messages

    assert caught.value.provider_message.startswith("SSLCertVerificationError: ")
    assert messages == []


async def test_smtp_tls_required_but_not_offered_is_not_retryable(smtp: SmtpCapture) -> None:
    sender = SmtpEmail(host=smtp.host, port=smtp.port, sender=SENDER, use_tls=True)
    with pytest.raises(DeliveryFailed) as caught:
        await sender.send("ada@example.com", "Hi", "text")

    assert caught.value.provider_message == "STARTTLS extension not supported by server."
    assert caught.value.retryable is False
    assert smtp.messages == []


async def test_smtp_unreachable_is_retryable() -> None:
    with SmtpCapture() as smtp:
        port = smtp.port
    sender = SmtpEmail(host="127.0.0.1", port=port, sender=SENDER, use_tls=False, timeout=2)
    with pytest.raises(DeliveryFailed) as caught:
        await sender.send("ada@example.com", "Hi", "text")

    assert caught.value.provider_message.startswith("ConnectionRefusedError: ")
    assert caught.value.retryable is True


async def test_console_email_logs_and_keeps_messages() -> None:
    sender = ConsoleEmail()
    with structlog.testing.capture_logs() as logs:
        receipt = await sender.send("ada@example.com", "Code", "123456", html="<b>123456</b>")

    [kept] = sender.messages
    assert (kept.to, kept.subject, kept.text, kept.html) == (
        "ada@example.com",
        "Code",
        "123456",
        "<b>123456</b>",
    )
    assert kept.message_id == receipt.message_id
    assert logs == [
        {
            "event": "notifications.email.console",
            "log_level": "info",
            "to": "ada@example.com",
            "subject": "Code",
            "text": "123456",
            "message_id": receipt.message_id,
        }
    ]


def test_email_factory() -> None:
    smtp = create_email_sender(
        ChannelSettings(
            email_provider="smtp",
            smtp_host="mail.example.com",
            smtp_port=2525,
            smtp_username="u",
            smtp_password="p",
            email_from=SENDER,
        )
    )
    assert isinstance(smtp, SmtpEmail)
    message = smtp.build_message("ada@example.com", "Subject", "Body")
    assert (message["From"], message["To"], message["Subject"]) == (
        SENDER,
        "ada@example.com",
        "Subject",
    )
    assert isinstance(create_email_sender(ChannelSettings(email_provider="console")), ConsoleEmail)
    with pytest.raises(UnsafeSettingsError, match="OJA_EMAIL_PROVIDER must not be 'console'"):
        create_email_sender(ChannelSettings(email_provider="console"), production=True)


def _wire(message: EmailMessage) -> bytes:
    """The bytes ``smtplib.SMTP.send_message`` puts on the wire, with the per-message parts (Date,
    Message-ID, MIME boundary) replaced by fixed ones."""
    message = copy.deepcopy(message)
    for name, value in (("Date", "Mon, 07 Dec 2026 12:00:00 +0000"), ("Message-ID", "<id@x>")):
        message.replace_header(name, value)
    if message.is_multipart():
        message.set_boundary("===============0000000000000000000==")
    out = io.BytesIO()
    BytesGenerator(out, policy=message.policy.clone(utf8=False)).flatten(message, linesep="\r\n")
    return out.getvalue()


def _built_by_default_policy(
    sender: str, to: str, subject: str, text: str, html: str | None, headers: dict[str, str]
) -> EmailMessage:
    """The message as ``SmtpEmail.build_message`` built it before it parsed repeating headers once
    (``email.policy.default``, every header parsed for every message)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = "Mon, 07 Dec 2026 12:00:00 +0000"
    message["Message-ID"] = "<id@x>"
    for name, value in headers.items():
        message[name] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


BODIES = [
    "Hello Ada,\nwelcome.",
    "Your order OJA-00001 from Adire House is confirmed. Total: ₦12,500.50.\n\nTrack it: "
    "https://oja.test/orders/0190abcd-ef01-7000-8000-000000000000\n\nThanks.",
    "x" * 200,
    "Ẹ kú àárọ̀ " * 40,
    "",
]


@pytest.mark.parametrize("sender", [SENDER, "no-reply@oja.test", "Ọjà Market <hi@oja.ng>"])
@pytest.mark.parametrize("text", BODIES)
def test_smtp_message_bytes_are_those_of_the_default_policy(sender: str, text: str) -> None:
    smtp = SmtpEmail(host="127.0.0.1", port=1, sender=sender, use_tls=False)
    cases = [
        ("ada@example.com", "Welcome to Oja", None, {}),
        ("Ada Obi <ada@example.com>", "Order OJA-00001 confirmed: ₦12,500.50", as_html(text), {}),
        (
            "ada@example.com",
            "A very long subject line that the policy has to fold because it goes past the limit",
            as_html(text),
            {
                "List-Unsubscribe": "<https://oja.test/unsubscribe?token=" + "a" * 90 + ">",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        ),
    ]
    for _ in range(2):  # the second time, the repeating headers come from the cache
        for to, subject, html, headers in cases:
            built = smtp.build_message(to, subject, text, html, headers)
            expected = _built_by_default_policy(sender, to, subject, text, html, headers)
            assert _wire(built) == _wire(expected)
            assert (built["From"], built["To"]) == (expected["From"], expected["To"])
