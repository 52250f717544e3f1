"""Errors of sessions and their tokens beyond the shared 401s in ``oja.identity.errors``."""

from __future__ import annotations

from oja.identity.errors import AuthenticationError, IdentityErrorCode


class TokenReused(AuthenticationError):
    """A spent refresh token came back after the grace window: its session is revoked."""

    code = IdentityErrorCode.token_reused
