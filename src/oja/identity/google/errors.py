"""Google Sign-In errors."""

from __future__ import annotations

from oja.core.errors import BadRequest, Conflict, NotConfigured, UpstreamError
from oja.identity.errors import AuthenticationError, IdentityErrorCode


class GoogleNotConfigured(NotConfigured):
    """Google Sign-In lacks its client id or secret: 503 ``not_configured`` like every module."""


class GoogleStateInvalid(BadRequest):
    """The callback's ``state`` names no started sign-in, or one expired or already used."""

    code = IdentityErrorCode.invalid_state


class GoogleMissingCode(BadRequest):
    """The callback came back without an authorization code."""

    code = IdentityErrorCode.missing_code


class GoogleDenied(BadRequest):
    """The user (or Google) ended the sign-in at Google: the callback carries ``error``."""

    code = IdentityErrorCode.google_denied


class GoogleInvalidCode(AuthenticationError):
    """Google rejected the authorization code."""

    code = IdentityErrorCode.invalid_code


class GoogleInvalidIdToken(AuthenticationError):
    code = IdentityErrorCode.invalid_id_token


class GoogleUnavailable(UpstreamError):
    code = IdentityErrorCode.google_unavailable


class GoogleAccountConflict(Conflict):
    code = IdentityErrorCode.account_exists
