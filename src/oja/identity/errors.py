"""Identity's error codes, one enum, and the errors its sub-domains share.

Every code here has one meaning and one HTTP status wherever it is raised. A sub-domain's own
errors sit in its ``errors`` module and take their code from :class:`IdentityErrorCode` too. Three
codes identity answers are core's generic ones, inherited from their base class: ``forbidden``
(a user token on a key route and the reverse, a missing role), ``conflict`` (an account with this
email or mobile exists) and ``not_configured`` (Google Sign-In lacks its settings).
"""

from __future__ import annotations

from typing import Any

from oja.core.errors import (
    BadRequest,
    Conflict,
    ErrorCode,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthorized,
)


class IdentityErrorCode(ErrorCode):
    # 401: the credential; the code tells the client what to do next.
    missing_credentials = "missing_credentials"
    invalid_token = "invalid_token"  # noqa: S105 - an error code, not a secret
    token_expired = "token_expired"  # noqa: S105 - an error code, not a secret
    session_revoked = "session_revoked"
    token_reused = "token_reused"  # noqa: S105 - an error code, not a secret
    invalid_credentials = "invalid_credentials"
    account_disabled = "account_disabled"
    invalid_api_key = "invalid_api_key"
    api_key_revoked = "api_key_revoked"
    api_key_expired = "api_key_expired"
    invalid_otp = "invalid_otp"
    invalid_mfa_code = "invalid_mfa_code"
    invalid_code = "invalid_code"
    """Google rejected the authorization code of a sign-in callback."""
    invalid_id_token = "invalid_id_token"  # noqa: S105 - an error code, not a secret
    # 400
    invalid_one_time_code = "invalid_one_time_code"
    """A wrong, expired, used or exhausted code or link outside login (reset, verification)."""
    no_mobile = "no_mobile"
    no_email = "no_email"
    invalid_state = "invalid_state"
    missing_code = "missing_code"
    google_denied = "google_denied"
    invalid_expiry = "invalid_expiry"
    # 403
    insufficient_scope = "insufficient_scope"
    # 404
    user_not_found = "user_not_found"
    api_key_not_found = "api_key_not_found"
    # 409
    last_admin = "last_admin"
    mfa_already_enabled = "mfa_already_enabled"
    mfa_not_set_up = "mfa_not_set_up"
    mfa_not_enabled = "mfa_not_enabled"
    account_exists = "account_exists"
    """An external account's email belongs to an account it cannot be linked to."""
    api_key_not_rotatable = "api_key_not_rotatable"
    # 429
    too_many_login_attempts = "too_many_login_attempts"
    busy = "busy"
    # 502
    google_unavailable = "google_unavailable"


class AuthenticationError(Unauthorized):
    """A 401 that tells the client, by its code, what to do next (log in again, refresh, ...)."""

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message, details=details, headers={"WWW-Authenticate": "Bearer"})


class MissingCredentials(AuthenticationError):
    code = IdentityErrorCode.missing_credentials


class InvalidToken(AuthenticationError):
    code = IdentityErrorCode.invalid_token


class TokenExpired(AuthenticationError):
    code = IdentityErrorCode.token_expired


class SessionRevoked(AuthenticationError):
    code = IdentityErrorCode.session_revoked


class InvalidCredentials(AuthenticationError):
    code = IdentityErrorCode.invalid_credentials


class AccountDisabled(AuthenticationError):
    code = IdentityErrorCode.account_disabled


class ApiKeyInvalid(AuthenticationError):
    code = IdentityErrorCode.invalid_api_key


class ApiKeyRevoked(AuthenticationError):
    code = IdentityErrorCode.api_key_revoked


class ApiKeyExpired(AuthenticationError):
    code = IdentityErrorCode.api_key_expired


class HashingBusy(TooManyRequests):
    """More password checks are in flight than the process can hash promptly: shed, don't queue."""

    code = IdentityErrorCode.busy


class InsufficientScope(Forbidden):
    code = IdentityErrorCode.insufficient_scope


class WrongPrincipal(Forbidden):
    """The wrong kind of caller for the route (a user token, an API key, a missing role)."""


class LoginLocked(TooManyRequests):
    code = IdentityErrorCode.too_many_login_attempts

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "Too many failed logins. Try again later.",
            details={"retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


class AccountExists(Conflict):
    """Another account already has this email or mobile number."""


class UserNotFound(NotFound):
    code = IdentityErrorCode.user_not_found


class LastAdmin(Conflict):
    code = IdentityErrorCode.last_admin


class InvalidOneTimeCode(BadRequest):
    """A wrong, expired, used or exhausted code or link outside login (reset, verification)."""

    code = IdentityErrorCode.invalid_one_time_code
