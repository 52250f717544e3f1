"""Helpers for the OTP, recovery, verification, Google and MFA tests: time travel, settings,
and the sandbox fakes wired into the app over real HTTP."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyotp
from pydantic import SecretStr

from oja.channels.config import ChannelSettings
from oja.core.clock import utcnow
from oja.identity.config import IdentitySettings, get_identity_settings
from oja.identity.delivery import get_notification_settings
from oja.identity.dependencies import get_clock
from oja.sandbox.sms import DEFAULT_API_KEY


@dataclass
class FakeClock:
    now: datetime = field(default_factory=utcnow)

    def __call__(self) -> datetime:
        return self.now

    def shift(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def install_clock(app: Any) -> FakeClock:
    clock = FakeClock()
    app.dependency_overrides[get_clock] = lambda: clock
    return clock


def use_identity_settings(app: Any, **values: Any) -> IdentitySettings:
    settings = IdentitySettings(**values)
    app.dependency_overrides[get_identity_settings] = lambda: settings
    return settings


def use_termii(app: Any, url: str, **more: Any) -> None:
    settings = ChannelSettings(
        sms_provider="termii", sms_base_url=url, sms_api_key=SecretStr(DEFAULT_API_KEY), **more
    )
    app.dependency_overrides[get_notification_settings] = lambda: settings


def use_smtp(app: Any, port: int) -> None:
    settings = ChannelSettings(
        email_provider="smtp", smtp_host="127.0.0.1", smtp_port=port, smtp_use_tls=False
    )
    app.dependency_overrides[get_notification_settings] = lambda: settings


def code_in(text: str) -> str:
    match = re.search(r"\b(\d{6})\b", text)
    assert match, text
    return match.group(1)


def token_in(text: str) -> str:
    match = re.search(r"token=([A-Za-z0-9_-]+)", text)
    assert match, text
    return match.group(1)


def totp_now(secret: str, at: datetime, offset_steps: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(at) + offset_steps)
