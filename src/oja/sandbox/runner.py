"""Every fake at once, wired to one Oja: what ``oja sandbox`` and ``oja serve --sandbox`` run.

:class:`Sandbox` starts the Google, Paystack, Flutterwave, Stripe, OpenRouter, Gemini, Termii,
SendGrid, Twilio and AliExpress fakes (HTTP, in threads) and the SMTP capture (a real SMTP server plus its
inbox page), points the fakes back at Oja (payment webhooks, the Google redirect URI) and answers :attr:`Sandbox.env`, the ``OJA_*`` variables
that point Oja at them. With a ``port_base`` every fake has a fixed port (base + offset, see
:data:`PORT_OFFSETS`), so printed variables stay valid across restarts; ``port_base=None`` takes free
ports (tests). Shared secrets are the fakes' public test values.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from oja.sandbox import (
    aliexpress,
    flutterwave,
    gemini,
    google,
    openrouter,
    paystack,
    sendgrid,
    sms,
    stripe,
    twilio,
)
from oja.sandbox.base import Lifecycle
from oja.sandbox.server import SandboxServer
from oja.sandbox.smtp import SmtpCapture

DEFAULT_PORT_BASE = 8100
DEFAULT_OJA_URL = "http://127.0.0.1:8000"
PORT_OFFSETS = {
    "google": 0,
    "paystack": 1,
    "stripe": 2,
    "openrouter": 3,
    "gemini": 4,
    "sms": 5,
    "smtp": 6,
    "email": 7,
    "sendgrid": 8,
    "twilio": 9,
    "flutterwave": 10,
    "aliexpress": 11,
}
"""Port of each fake relative to the base; ``smtp`` is the SMTP server, ``email`` its inbox page."""
PAYSTACK_WEBHOOK_PATH = "/payments/paystack/webhook"
STRIPE_WEBHOOK_PATH = "/webhook/stripe"
FLUTTERWAVE_WEBHOOK_PATH = "/payments/flutterwave/webhook"
GOOGLE_CALLBACK_PATH = "/auth/google/callback"
SENDGRID_EVENTS_PATH = "/notifications/callbacks/sendgrid"
TWILIO_STATUS_PATH = "/notifications/callbacks/twilio"
PRIVATE_HOSTS = ("127.0.0.1", "localhost")
"""Hosts the sandbox's fakes live on, added to Oja's SSRF allowlist (OJA_HTTP_ALLOW_PRIVATE_HOSTS)."""


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    url: str
    """Base URL (``smtp://host:port`` for the SMTP server)."""
    page: str | None = None
    """A page worth opening in a browser, if any."""


class Sandbox(Lifecycle):
    """``with Sandbox(oja_url=...) as sandbox: os.environ.update(sandbox.env)``."""

    def __init__(
        self,
        *,
        oja_url: str = DEFAULT_OJA_URL,
        port_base: int | None = DEFAULT_PORT_BASE,
        host: str = "127.0.0.1",
        paystack_otp: bool = False,
    ) -> None:
        """``paystack_otp``: the Paystack fake holds every transfer for an OTP (OTP approval on)."""
        self.oja_url = oja_url.rstrip("/")
        self.port_base = port_base
        self.host = host
        callback = self.oja_url + GOOGLE_CALLBACK_PATH
        self.google = google.GoogleFake(
            clients=[
                google.GoogleClient(
                    google.DEFAULT_CLIENT_ID, google.DEFAULT_CLIENT_SECRET, (callback,)
                )
            ],
            issuer=self._http_url("google"),
        )
        self.paystack = paystack.PaystackFake(
            webhook_url=self.oja_url + PAYSTACK_WEBHOOK_PATH, otp_required=paystack_otp
        )
        self.stripe = stripe.StripeFake(webhook_url=self.oja_url + STRIPE_WEBHOOK_PATH)
        self.flutterwave = flutterwave.FlutterwaveFake(
            webhook_url=self.oja_url + FLUTTERWAVE_WEBHOOK_PATH
        )
        self.openrouter = openrouter.OpenRouterFake()
        self.gemini = gemini.GeminiFake()
        self.sms = sms.TermiiFake()
        self.sendgrid = sendgrid.SendGridFake(webhook_url=self.oja_url + SENDGRID_EVENTS_PATH)
        self.twilio = twilio.TwilioFake()
        self.aliexpress = aliexpress.AliExpressFake()
        self.smtp = SmtpCapture(host, self._port("smtp"))
        self._apps: dict[str, Any] = {
            "google": self.google.app,
            "paystack": self.paystack.app,
            "stripe": self.stripe.app,
            "openrouter": self.openrouter.app,
            "gemini": self.gemini.app,
            "sms": self.sms.app,
            "email": self.smtp.app,
            "flutterwave": self.flutterwave.app,
            "sendgrid": self.sendgrid.app,
            "twilio": self.twilio.app,
            "aliexpress": self.aliexpress.app,
        }
        self._servers: dict[str, SandboxServer] = {}
        self._started = False

    def _port(self, name: str) -> int:
        return 0 if self.port_base is None else self.port_base + PORT_OFFSETS[name]

    def _http_url(self, name: str) -> str | None:
        """The fixed URL of a fake known before it starts (None for free ports: learnt at start)."""
        if self.port_base is None:
            return None
        return f"http://{self.host}:{self._port(name)}"

    def start(self) -> Self:
        if self._started:
            raise RuntimeError("the sandbox is already started")
        self._started = True
        try:
            for name, app in self._apps.items():
                self._servers[name] = SandboxServer(app, self.host, self._port(name)).start()
            self.smtp.start()
        except BaseException:
            self.stop()
            raise
        if self.google.issuer is None:
            self.google.issuer = self.url("google")
        return self

    def stop(self) -> None:
        self.smtp.stop()
        for server in reversed(self._servers.values()):
            server.stop()
        self._servers.clear()
        self._started = False

    def url(self, name: str) -> str:
        """Base URL of a started fake, by its :data:`PORT_OFFSETS` name."""
        if name == "smtp":
            return f"smtp://{self.host}:{self.smtp.port}"
        return self._servers[name].url

    @property
    def services(self) -> list[Service]:
        return [
            Service(
                "Google OpenID Connect",
                self.url("google"),
                self.url("google") + "/.well-known/openid-configuration",
            ),
            Service("Paystack", self.url("paystack"), None),
            Service("Stripe", self.url("stripe"), None),
            Service("Flutterwave", self.url("flutterwave"), None),
            Service("OpenRouter", self.url("openrouter"), None),
            Service("Gemini", self.url("gemini"), None),
            Service("Termii SMS", self.url("sms"), self.url("sms") + "/"),
            Service("SMTP", self.url("smtp"), None),
            Service("Email inbox", self.url("email"), self.url("email") + "/"),
            Service("SendGrid", self.url("sendgrid"), self.url("sendgrid") + "/"),
            Service("Twilio SMS", self.url("twilio"), self.url("twilio") + "/"),
            Service("AliExpress", self.url("aliexpress"), None),
        ]

    @property
    def env(self) -> dict[str, str]:
        """The variables that point Oja at the fakes (and the fakes' secrets), in a stable order."""
        if not self._started:
            raise RuntimeError("the sandbox is not started")
        return {
            "OJA_PUBLIC_URL": self.oja_url,
            "OJA_HTTP_ALLOW_PRIVATE_HOSTS": json.dumps(list(PRIVATE_HOSTS)),
            "OJA_GOOGLE_DISCOVERY_URL": self.url("google") + "/.well-known/openid-configuration",
            "OJA_GOOGLE_CLIENT_ID": google.DEFAULT_CLIENT_ID,
            "OJA_GOOGLE_CLIENT_SECRET": google.DEFAULT_CLIENT_SECRET,
            "OJA_GOOGLE_REDIRECT_URI": self.oja_url + GOOGLE_CALLBACK_PATH,
            "OJA_SMS_PROVIDER": "termii",
            "OJA_SMS_BASE_URL": self.url("sms"),
            "OJA_SMS_API_KEY": self.sms.api_key,
            "OJA_EMAIL_PROVIDER": "smtp",
            "OJA_SMTP_HOST": self.host,
            "OJA_SMTP_PORT": str(self.smtp.port),
            "OJA_SMTP_USE_TLS": "false",
            "OJA_SENDGRID_API_KEY": self.sendgrid.api_key,
            "OJA_SENDGRID_BASE_URL": self.url("sendgrid"),
            "OJA_SENDGRID_WEBHOOK_PUBLIC_KEY": self.sendgrid.public_key,
            "OJA_TWILIO_ACCOUNT_SID": self.twilio.account_sid,
            "OJA_TWILIO_AUTH_TOKEN": self.twilio.auth_token,
            "OJA_TWILIO_FROM": twilio.DEFAULT_FROM,
            "OJA_TWILIO_BASE_URL": self.url("twilio"),
            "OJA_TWILIO_STATUS_CALLBACK_URL": self.oja_url + TWILIO_STATUS_PATH,
            "OJA_LLM_PROVIDER": "openrouter",
            "OJA_OPENROUTER_BASE_URL": self.url("openrouter"),
            "OJA_OPENROUTER_API_KEY": next(iter(self.openrouter.api_keys)),
            "OJA_GEMINI_BASE_URL": self.url("gemini"),
            "OJA_GEMINI_API_KEY": next(iter(self.gemini.api_keys)),
            "OJA_PAYSTACK_BASE_URL": self.url("paystack"),
            "OJA_PAYSTACK_SECRET_KEY": self.paystack.secret_key,
            "OJA_FLUTTERWAVE_BASE_URL": self.url("flutterwave"),
            "OJA_FLUTTERWAVE_SECRET_KEY": self.flutterwave.secret_key,
            "OJA_FLUTTERWAVE_SECRET_HASH": self.flutterwave.secret_hash,
            "OJA_FLUTTERWAVE_REDIRECT_URL": self.oja_url + "/payments/flutterwave/return",
            "OJA_ALIEXPRESS_BASE_URL": self.url("aliexpress"),
            "OJA_ALIEXPRESS_AUTHORIZE_URL": self.url("aliexpress") + "/oauth/authorize",
            "OJA_ALIEXPRESS_APP_KEY": self.aliexpress.app_key,
            "OJA_ALIEXPRESS_APP_SECRET": self.aliexpress.app_secret,
            "OJA_STRIPE_API_BASE": self.url("stripe"),
            "OJA_STRIPE_SECRET_KEY": self.stripe.secret_key,
            "OJA_STRIPE_WEBHOOK_SECRET": self.stripe.webhook_secret,
            "OJA_STRIPE_PRO_PRICE_ID": stripe.DEFAULT_PRICE_ID,
            "OJA_STRIPE_SUCCESS_URL": self.oja_url + "/subscription/status?checkout=success",
            "OJA_STRIPE_CANCEL_URL": self.oja_url + "/subscription/status?checkout=cancelled",
            "OJA_STRIPE_PORTAL_RETURN_URL": self.oja_url + "/subscription/status",
        }

    def environment(self, current: Mapping[str, str]) -> dict[str, str]:
        """:attr:`env` merged into ``current``: an allowlist already set keeps its hosts."""
        env = self.env
        allowed = _host_list(current.get("OJA_HTTP_ALLOW_PRIVATE_HOSTS"))
        allowed += [h for h in PRIVATE_HOSTS if h not in allowed]
        env["OJA_HTTP_ALLOW_PRIVATE_HOSTS"] = json.dumps(allowed)
        return {**current, **env}

    def exports(self) -> str:
        """``export OJA_…=…`` lines (shell-quoted), with the pages worth opening as comments."""
        return _render(self, "export ")

    def dotenv(self) -> str:
        """The same variables as a ``.env`` file."""
        return _render(self, "")


def _host_list(value: str | None) -> list[str]:
    if not value:
        return []
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = value.split(",")
    if isinstance(parsed, str):
        parsed = [parsed]
    return [str(host).strip() for host in parsed if str(host).strip()]


def _render(sandbox: Sandbox, prefix: str) -> str:
    lines = [f"# Oja sandbox: fakes of every third party, wired to Oja at {sandbox.oja_url}"]
    lines += [f"#   {s.name:<22} {s.page or s.url}" for s in sandbox.services]
    lines += [f"{prefix}{name}={shlex.quote(value)}" for name, value in sandbox.env.items()]
    return "\n".join(lines) + "\n"
