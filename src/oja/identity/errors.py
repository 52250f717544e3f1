"""Identity errors: a stable ``code`` each, and ``WWW-Authenticate`` on every 401."""

from __future__ import annotations

from typing import Any

from oja.core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotConfigured,
    NotFound,
    TooManyRequests,
    Unauthorized,
    UpstreamError,
)


class AuthenticationError(Unauthorized):
    """A 401 that tells the client, by its code, what to do next (log in again, refresh, ...)."""

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message, details=details, headers={"WWW-Authenticate": "Bearer"})


class MissingCredentials(AuthenticationError):
    code = "missing_credentials"


class InvalidToken(AuthenticationError):
    code = "invalid_token"


class TokenExpired(AuthenticationError):
    code = "token_expired"


class SessionRevoked(AuthenticationError):
    code = "session_revoked"


class TokenReused(AuthenticationError):
    code = "token_reused"


class InvalidCredentials(AuthenticationError):
    code = "invalid_credentials"


class AccountDisabled(AuthenticationError):
    code = "account_disabled"


class ApiKeyInvalid(AuthenticationError):
    code = "invalid_api_key"


class ApiKeyRevoked(AuthenticationError):
    code = "api_key_revoked"


class ApiKeyExpired(AuthenticationError):
    code = "api_key_expired"


class HashingBusy(TooManyRequests):
    """More password checks are in flight than the process can hash promptly: shed, don't queue."""

    code = "busy"


class InsufficientScope(Forbidden):
    code = "insufficient_scope"


class WrongPrincipal(Forbidden):
    code = "forbidden"


class LoginLocked(TooManyRequests):
    code = "too_many_login_attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "Too many failed logins. Try again later.",
            details={"retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


class AccountExists(Conflict):
    code = "conflict"


class UserNotFound(NotFound):
    code = "user_not_found"


class LastAdmin(Conflict):
    code = "last_admin"


class InvalidOtp(AuthenticationError):
    """A wrong, expired, used or exhausted code where a login was attempted."""

    code = "invalid_otp"


class InvalidCode(BadRequest):
    """A wrong, expired, used or exhausted code or link outside login (reset, verification)."""

    code = "invalid_code"


class NoMobile(BadRequest):
    code = "no_mobile"


class NoEmail(BadRequest):
    code = "no_email"


class MfaInvalidCode(AuthenticationError):
    code = "invalid_mfa_code"


class MfaAlreadyEnabled(Conflict):
    code = "mfa_already_enabled"


class MfaNotSetUp(Conflict):
    code = "mfa_not_set_up"


class MfaNotEnabled(Conflict):
    code = "mfa_not_enabled"


class GoogleNotConfigured(NotConfigured):
    """Google Sign-In lacks its client id or secret: 503 ``not_configured`` like every module."""


class GoogleError(BadRequest):
    """The browser came back from Google without a usable answer (missing code, bad state)."""

    code = "google_error"


class GoogleInvalidCode(AuthenticationError):
    code = "invalid_code"


class GoogleInvalidIdToken(AuthenticationError):
    code = "invalid_id_token"


class GoogleUnavailable(UpstreamError):
    code = "google_unavailable"


class GoogleAccountConflict(Conflict):
    code = "account_exists"
