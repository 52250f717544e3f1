"""Settings for the delivery channels (``OJA_SMS_*``, ``OJA_SMTP_*``, ``OJA_EMAIL_*``,
``OJA_SENDGRID_*``, ``OJA_TWILIO_*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr

from oja.core.config import SettingsSection


class ChannelSettings(SettingsSection):
    sms_provider: Literal["console", "termii", "twilio"] = "console"
    """SMS adapter: `console` logs the message (development only), `termii` or `twilio` sends it."""
    sms_base_url: str = "https://api.ng.termii.com"
    """Termii API base URL; point it at the sandbox fake in tests and local runs."""
    sms_api_key: SecretStr | None = None
    """Termii API key (required when OJA_SMS_PROVIDER=termii)."""
    sms_sender_id: str = "Oja"
    """Termii sender ID: a registered alphanumeric name of 3 to 11 characters."""
    sms_channel: Literal["generic", "dnd", "whatsapp"] = "generic"
    """Termii route; `dnd` reaches numbers on Do-Not-Disturb and suits OTPs once activated."""
    sms_timeout: float = 10.0
    """Seconds to wait for the SMS provider before the send counts as failed (and retryable)."""
    email_provider: Literal["console", "smtp", "sendgrid"] = "console"
    """Email adapter: `console` logs the message (development only), `smtp` or `sendgrid` sends it."""
    smtp_host: str = "127.0.0.1"
    """SMTP server host."""
    smtp_port: int = 587
    """SMTP server port (587 for submission with STARTTLS, 25 or the sandbox's port without)."""
    smtp_username: str | None = None
    """SMTP login; unset sends without authenticating."""
    smtp_password: SecretStr | None = None
    """SMTP password for OJA_SMTP_USERNAME."""
    smtp_use_tls: bool = True
    """Upgrade the SMTP connection with STARTTLS before logging in and sending."""
    smtp_timeout: float = 10.0
    """Seconds for each SMTP network operation before the send counts as failed."""
    email_from: str = "Oja <no-reply@oja.local>"
    """The From header of outgoing email: an address, optionally with a display name."""

    sendgrid_api_key: SecretStr | None = None
    """SendGrid API key with the Mail Send scope (required when OJA_EMAIL_PROVIDER=sendgrid)."""
    sendgrid_base_url: str = "https://api.sendgrid.com"
    """SendGrid API base URL (`https://api.eu.sendgrid.com` for EU-pinned subusers; the sandbox
    fake in tests and local runs)."""
    sendgrid_webhook_public_key: str | None = None
    """The Event Webhook's ECDSA verification key as SendGrid shows it (base64 DER, or PEM);
    unset refuses every event POST."""
    sendgrid_timeout: float = 10.0
    """Seconds to wait for SendGrid before the send counts as failed."""
    twilio_account_sid: str | None = None
    """Twilio Account SID (`AC…`; required when OJA_SMS_PROVIDER=twilio)."""
    twilio_auth_token: SecretStr | None = None
    """Twilio Auth Token: the API password and the key of `X-Twilio-Signature` on callbacks."""
    twilio_from: str | None = None
    """Sender: an E.164 number, an alphanumeric sender ID, or a Messaging Service SID (`MG…`)."""
    twilio_base_url: str = "https://api.twilio.com"
    """Twilio API base URL; point it at the sandbox fake in tests and local runs."""
    twilio_status_callback_url: str | None = None
    """Where Twilio posts delivery statuses (Oja's `/notifications/callbacks/twilio` as Twilio
    reaches it, the URL its signature covers); unset asks for no callbacks."""
    twilio_timeout: float = 10.0
    """Seconds to wait for Twilio before the send counts as failed."""

    def production_problems(self) -> list[str]:
        """What makes these settings unsafe in production (console adapters log OTPs and links)."""
        problems = []
        if self.sms_provider == "console":
            problems.append("OJA_SMS_PROVIDER must not be 'console' in production")
        if self.email_provider == "console":
            problems.append("OJA_EMAIL_PROVIDER must not be 'console' in production")
        return problems
