"""TOTP MFA errors."""

from __future__ import annotations

from oja.core.errors import Conflict
from oja.identity.errors import AuthenticationError, IdentityErrorCode


class MfaInvalidCode(AuthenticationError):
    code = IdentityErrorCode.invalid_mfa_code


class MfaAlreadyEnabled(Conflict):
    code = IdentityErrorCode.mfa_already_enabled


class MfaNotSetUp(Conflict):
    code = IdentityErrorCode.mfa_not_set_up


class MfaNotEnabled(Conflict):
    code = IdentityErrorCode.mfa_not_enabled
