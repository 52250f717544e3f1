"""The sandbox runner starts every fake, wires them to Oja, and names them in OJA_ variables."""

from __future__ import annotations

import json
import random
import shlex
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from oja.billing.config import BillingSettings
from oja.channels.config import ChannelSettings
from oja.core.ai.config import AISettings
from oja.core.config import HttpSettings
from oja.identity.config import GoogleSettings
from oja.marketplace.sources.aliexpress.config import AliExpressSettings
from oja.sandbox import aliexpress, google, paystack, stripe
from oja.sandbox.runner import PORT_OFFSETS, Sandbox

OJA_URL = "http://127.0.0.1:8765"
EXPECTED = {
    "OJA_PUBLIC_URL",
    "OJA_HTTP_ALLOW_PRIVATE_HOSTS",
    "OJA_GOOGLE_DISCOVERY_URL",
    "OJA_GOOGLE_CLIENT_ID",
    "OJA_GOOGLE_CLIENT_SECRET",
    "OJA_GOOGLE_REDIRECT_URI",
    "OJA_SMS_PROVIDER",
    "OJA_SMS_BASE_URL",
    "OJA_SMS_API_KEY",
    "OJA_EMAIL_PROVIDER",
    "OJA_SMTP_HOST",
    "OJA_SMTP_PORT",
    "OJA_SMTP_USE_TLS",
    "OJA_LLM_PROVIDER",
    "OJA_OPENROUTER_BASE_URL",
    "OJA_OPENROUTER_API_KEY",
    "OJA_GEMINI_BASE_URL",
    "OJA_GEMINI_API_KEY",
    "OJA_PAYSTACK_BASE_URL",
    "OJA_PAYSTACK_SECRET_KEY",
    "OJA_FLUTTERWAVE_BASE_URL",
    "OJA_FLUTTERWAVE_SECRET_KEY",
    "OJA_FLUTTERWAVE_SECRET_HASH",
    "OJA_FLUTTERWAVE_REDIRECT_URL",
    "OJA_STRIPE_API_BASE",
    "OJA_STRIPE_SECRET_KEY",
    "OJA_STRIPE_WEBHOOK_SECRET",
    "OJA_STRIPE_PRO_PRICE_ID",
    "OJA_STRIPE_SUCCESS_URL",
    "OJA_STRIPE_CANCEL_URL",
    "OJA_STRIPE_PORTAL_RETURN_URL",
    "OJA_SENDGRID_API_KEY",
    "OJA_SENDGRID_BASE_URL",
    "OJA_SENDGRID_WEBHOOK_PUBLIC_KEY",
    "OJA_TWILIO_ACCOUNT_SID",
    "OJA_TWILIO_AUTH_TOKEN",
    "OJA_TWILIO_FROM",
    "OJA_TWILIO_BASE_URL",
    "OJA_TWILIO_STATUS_CALLBACK_URL",
    "OJA_ALIEXPRESS_BASE_URL",
    "OJA_ALIEXPRESS_AUTHORIZE_URL",
    "OJA_ALIEXPRESS_APP_KEY",
    "OJA_ALIEXPRESS_APP_SECRET",
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(oja_url=OJA_URL, port_base=None) as running:
        yield running


def test_env_names_every_variable_and_the_settings_read_them(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = sandbox.env
    assert set(env) == EXPECTED
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert json.loads(env["OJA_HTTP_ALLOW_PRIVATE_HOSTS"]) == ["127.0.0.1", "localhost"]
    assert HttpSettings().http_allow_private_hosts == ["127.0.0.1", "localhost"]
    google_settings = GoogleSettings()
    assert google_settings.google_redirect_uri == f"{OJA_URL}/auth/google/callback"
    assert google_settings.google_client_id == google.DEFAULT_CLIENT_ID
    billing = BillingSettings()
    assert billing.paystack_base_url == sandbox.url("paystack")
    assert billing.paystack_secret_key == sandbox.paystack.secret_key == paystack.DEFAULT_SECRET_KEY
    assert billing.stripe_api_base == sandbox.url("stripe")
    assert billing.stripe_webhook_secret == sandbox.stripe.webhook_secret
    assert billing.stripe_pro_price_id == stripe.DEFAULT_PRICE_ID
    notifications = ChannelSettings()
    assert (notifications.sms_provider, notifications.email_provider) == ("termii", "smtp")
    assert notifications.smtp_port == sandbox.smtp.port
    assert notifications.smtp_use_tls is False
    assert notifications.sendgrid_base_url == sandbox.url("sendgrid")
    assert notifications.twilio_base_url == sandbox.url("twilio")
    assert notifications.twilio_status_callback_url == f"{OJA_URL}/notifications/callbacks/twilio"
    ae = AliExpressSettings()
    assert ae.aliexpress_base_url == sandbox.url("aliexpress")
    assert ae.aliexpress_authorize_url == sandbox.url("aliexpress") + "/oauth/authorize"
    assert (ae.aliexpress_app_key, ae.aliexpress_app_secret) == (
        aliexpress.DEFAULT_APP_KEY,
        aliexpress.DEFAULT_APP_SECRET,
    )
    ai = AISettings()
    assert ai.openrouter_base_url == sandbox.url("openrouter")
    assert ai.gemini_base_url == sandbox.url("gemini")


def test_the_fakes_call_oja_back(sandbox: Sandbox) -> None:
    assert sandbox.paystack.webhook_url == f"{OJA_URL}/payments/paystack/webhook"
    assert sandbox.stripe.webhook_url == f"{OJA_URL}/webhook/stripe"
    client = sandbox.google.clients[google.DEFAULT_CLIENT_ID]
    assert client.redirect_uris == (f"{OJA_URL}/auth/google/callback",)


def test_every_fake_answers_with_the_printed_secrets(sandbox: Sandbox) -> None:
    env = sandbox.env
    with httpx.Client(timeout=10) as http:
        discovery = http.get(env["OJA_GOOGLE_DISCOVERY_URL"])
        assert discovery.status_code == 200
        assert discovery.json()["issuer"] == sandbox.url("google")
        assert http.get(discovery.json()["jwks_uri"]).json()["keys"]

        started = http.post(
            f"{env['OJA_PAYSTACK_BASE_URL']}/transaction/initialize",
            json={"email": "a@example.com", "amount": 5000},
            headers={"Authorization": f"Bearer {env['OJA_PAYSTACK_SECRET_KEY']}"},
        )
        assert started.status_code == 200, started.text
        assert http.get(started.json()["data"]["authorization_url"]).status_code == 200

        customer = http.post(
            f"{env['OJA_STRIPE_API_BASE']}/v1/customers",
            data={"email": "a@example.com"},
            headers={"Authorization": f"Bearer {env['OJA_STRIPE_SECRET_KEY']}"},
        )
        assert customer.status_code == 200, customer.text
        assert customer.json()["object"] == "customer"

        embeddings = http.post(
            f"{env['OJA_OPENROUTER_BASE_URL']}/embeddings",
            json={"model": "openai/text-embedding-3-small", "input": ["hello"]},
            headers={"Authorization": f"Bearer {env['OJA_OPENROUTER_API_KEY']}"},
        )
        assert embeddings.status_code == 200, embeddings.text
        assert embeddings.json()["data"][0]["embedding"]

        generated = http.post(
            f"{env['OJA_GEMINI_BASE_URL']}/v1beta/models/gemini-2.0-flash:generateContent",
            json={"contents": [{"role": "user", "parts": [{"text": "Hello there."}]}]},
            headers={"x-goog-api-key": env["OJA_GEMINI_API_KEY"]},
        )
        assert generated.status_code == 200, generated.text
        assert generated.json()["candidates"][0]["content"]["parts"][0]["text"]

        sent = http.post(
            f"{env['OJA_SMS_BASE_URL']}/api/sms/send",
            json={
                "api_key": env["OJA_SMS_API_KEY"],
                "to": "2348031234567",
                "from": "Oja",
                "sms": "Your code is 123456",
                "type": "plain",
                "channel": "generic",
            },
        )
        assert sent.status_code == 200, sent.text
        assert http.get(f"{sandbox.url('sms')}/messages").json()["messages"][0]["sms"] == (
            "Your code is 123456"
        )

        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = (
            "oja@example.com",
            "a@example.com",
            "Hi",
        )
        message.set_content("Hello from the sandbox.")
        with smtplib.SMTP(env["OJA_SMTP_HOST"], int(env["OJA_SMTP_PORT"]), timeout=10) as smtp:
            smtp.send_message(message)
        inbox = http.get(f"{sandbox.url('email')}/messages").json()["messages"]
        assert [m["subject"] for m in inbox] == ["Hi"]
        assert http.get(f"{sandbox.url('email')}/").status_code == 200


def test_fixed_ports_follow_the_base_and_the_output_is_shell_and_dotenv() -> None:
    base = _free_port_block(len(PORT_OFFSETS))
    with Sandbox(oja_url=OJA_URL, port_base=base) as fixed:
        assert fixed.url("google") == f"http://127.0.0.1:{base}"
        assert fixed.url("stripe") == f"http://127.0.0.1:{base + PORT_OFFSETS['stripe']}"
        assert fixed.smtp.port == base + PORT_OFFSETS["smtp"]
        assert fixed.url("email") == f"http://127.0.0.1:{base + PORT_OFFSETS['email']}"
        exported = {
            name.removeprefix("export "): shlex.split(value)[0]
            for name, _, value in (
                line.partition("=")
                for line in fixed.exports().splitlines()
                if not line.startswith("#")
            )
        }
        assert exported == fixed.env
        assert fixed.dotenv() == fixed.exports().replace("export ", "")


def test_environment_keeps_an_allowlist_already_set(sandbox: Sandbox) -> None:
    merged = sandbox.environment({"OJA_HTTP_ALLOW_PRIVATE_HOSTS": '["minio"]', "HOME": "/root"})
    assert json.loads(merged["OJA_HTTP_ALLOW_PRIVATE_HOSTS"]) == ["minio", "127.0.0.1", "localhost"]
    assert merged["HOME"] == "/root"
    assert merged["OJA_PUBLIC_URL"] == OJA_URL


def test_a_taken_port_fails_the_start_and_releases_the_others() -> None:
    base = _free_port_block(len(PORT_OFFSETS))
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", base + PORT_OFFSETS["gemini"]))
    blocker.listen(1)
    try:
        with pytest.raises(OSError):
            Sandbox(port_base=base).start()
        # Every fake started before the failure was stopped: the block can be taken again.
        blocker.close()
        with Sandbox(port_base=base) as again:
            assert again.url("gemini").endswith(str(base + PORT_OFFSETS["gemini"]))
    finally:
        blocker.close()


def _free_port_block(size: int) -> int:
    """A base port whose next ``size`` ports are all free right now.

    Taken below the kernel's ephemeral range: a port from there may become some outgoing
    connection's source port between this probe and the sandbox binding it.
    """
    for _ in range(200):
        base = random.randrange(20_000, 32_000 - size)
        sockets = []
        try:
            for port in range(base, base + size):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no block of free ports")


def test_oja_sandbox_prints_writes_and_stops_on_sigterm(tmp_path: Path) -> None:
    base = _free_port_block(len(PORT_OFFSETS))
    env_file = tmp_path / "var" / "sandbox.env"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "oja.cli",
            "sandbox",
            "--port-base",
            str(base),
            "--oja-url",
            OJA_URL,
            "--write-env",
            str(env_file),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not env_file.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert env_file.exists(), f"exit code {process.poll()}"
        written = dict(
            line.split("=", 1) for line in env_file.read_text().splitlines() if line[:1] != "#"
        )
        discovery = shlex.split(written["OJA_GOOGLE_DISCOVERY_URL"])[0]
        assert discovery == f"http://127.0.0.1:{base}/.well-known/openid-configuration"
        assert httpx.get(discovery, timeout=5).json()["issuer"] == f"http://127.0.0.1:{base}"
        assert shlex.split(written["OJA_PUBLIC_URL"])[0] == OJA_URL
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert f"export OJA_SMTP_PORT={base + PORT_OFFSETS['smtp']}" in stdout.splitlines()
    with socket.socket() as again:  # every port was released
        again.bind(("127.0.0.1", base))


def test_the_paystack_fake_can_start_in_otp_mode() -> None:
    """Built, not started: the option reaches the fake, off by default."""
    assert Sandbox(oja_url=OJA_URL, port_base=None, paystack_otp=True).paystack.otp_required
    assert not Sandbox(oja_url=OJA_URL, port_base=None).paystack.otp_required
