"""Identity settings (``OJA_`` prefix): sections of the runtime's :class:`~oja.core.config.Settings`.

The getters take no argument, so request validators and code outside requests call them as they are:
they read the process's runtime (the one the API or the worker made) and are FastAPI dependencies
tests may override.
"""

from __future__ import annotations

import phonenumbers
from pydantic import field_validator

from oja.core.config import SettingsSection
from oja.core.runtime import current_settings


class IdentitySettings(SettingsSection):
    access_token_ttl: int = 900
    """Seconds an access token stays valid (OJA_ACCESS_TOKEN_TTL)."""
    refresh_token_ttl: int = 30 * 24 * 3600
    """Seconds a refresh token stays valid; renewed on each refresh (OJA_REFRESH_TOKEN_TTL)."""
    refresh_reuse_grace: float = 10.0
    """Seconds during which a refresh token presented again returns the same new pair instead of
    counting as reuse (two tabs refreshing at once)."""
    jwt_issuer: str = "oja"
    """`iss` claim written into and required from every token."""
    jwt_audience: str = "oja-api"
    """`aud` claim written into and required from every token."""
    phone_default_regions: str = "NG,IN,US"
    """Countries (ISO codes, comma-separated) tried in order for a mobile number given without a
    leading +: the first where it is a valid mobile number wins. Numbers with + are accepted from
    any country."""
    password_min_length: int = 8
    """Shortest password accepted at signup and password change."""
    argon2_memory_cost: int = 19_456
    """argon2id memory in KiB (OWASP minimum: 19 MiB). Raising it rehashes passwords on login."""
    argon2_time_cost: int = 2
    """argon2id iterations (OWASP minimum: 2)."""
    argon2_parallelism: int = 1
    """argon2id lanes (OWASP: 1)."""
    password_hash_threads: int = 0
    """Threads that hash passwords, bounding CPU and memory (0: one per core)."""
    password_hash_backlog: int = 0
    """Most password hashes a process lets run or wait at once; beyond it sign-ins answer 429
    `busy` with `Retry-After` (0: 8 per hashing thread)."""
    login_max_failures: int = 10
    """Consecutive failed logins allowed per account and per client IP before a lockout."""
    login_lockout_base: float = 60.0
    """First lockout in seconds; each further failure after a lockout doubles it."""
    login_lockout_max: float = 24 * 3600.0
    """Longest lockout in seconds."""
    login_failure_window: int = 24 * 3600
    """Seconds without a failure after which the failure counter is forgotten."""
    otp_in_response: bool | None = None
    """Return phone OTPs in the response body instead of sending an SMS (the mocked flow of the
    OTP-login contract). Unset: on outside production, off in production."""
    otp_ttl: int = 300
    """Seconds a phone OTP stays valid."""
    otp_max_attempts: int = 5
    """Wrong submissions after which a phone OTP is dead (a new one must be requested)."""
    otp_send_per_number: str = "5/hour"
    """OTP sends allowed per mobile number (`limits` notation, e.g. `5/hour`)."""
    otp_send_per_ip: str = "20/hour"
    """OTP, reset and verification sends allowed per client IP."""
    reset_token_ttl: int = 1800
    """Seconds an emailed password-reset link stays valid."""
    email_verification_ttl: int = 24 * 3600
    """Seconds an emailed address-verification link stays valid."""
    mfa_token_ttl: int = 300
    """Seconds between a correct first factor and the TOTP code that completes the login."""
    mfa_verify_rate: str = "5/5 minutes"
    """TOTP or recovery-code submissions allowed per user."""
    totp_issuer: str = "Oja"
    """Issuer shown by authenticator apps next to the account name."""

    @field_validator("phone_default_regions")
    @classmethod
    def _known_regions(cls, value: str) -> str:
        regions = [r.strip().upper() for r in value.split(",") if r.strip()]
        unknown = [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]
        if not regions or unknown:
            raise ValueError(f"give ISO country codes phonenumbers knows, e.g. NG,IN,US: {unknown}")
        return ",".join(regions)

    @property
    def phone_regions(self) -> tuple[str, ...]:
        return tuple(self.phone_default_regions.split(","))


class GoogleSettings(SettingsSection):
    google_discovery_url: str = "https://accounts.google.com/.well-known/openid-configuration"
    """Google's OpenID Connect discovery document; point it at the sandbox fake locally."""
    google_client_id: str | None = None
    """OAuth client id of the Google Cloud project (required for Google Sign-In)."""
    google_client_secret: str | None = None
    """OAuth client secret (required for Google Sign-In)."""
    google_redirect_uri: str | None = None
    """Registered redirect URI. Unset: OJA_PUBLIC_URL + `/auth/google/callback`."""
    google_state_ttl: int = 600
    """Seconds a started Google sign-in (state, nonce, PKCE verifier) may take to come back."""


def get_google_settings() -> GoogleSettings:
    """The Google section of the process's settings; a FastAPI dependency tests may override."""
    return current_settings().section(GoogleSettings)


def get_identity_settings() -> IdentitySettings:
    """The identity section of the process's settings; a FastAPI dependency tests may override."""
    return current_settings().section(IdentitySettings)
