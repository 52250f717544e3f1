"""Identity errors: a stable ``code`` each, and ``WWW-Authenticate`` on every 401."""

from __future__ import annotations

from typing import Any

from oja.core.errors import Conflict, Forbidden, NotFound, TooManyRequests, Unauthorized


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
