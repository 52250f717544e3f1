"""Phone OTP login errors."""

from __future__ import annotations

from oja.identity.errors import AuthenticationError, IdentityErrorCode


class InvalidOtp(AuthenticationError):
    """A wrong, expired, used or exhausted code where a login was attempted."""

    code = IdentityErrorCode.invalid_otp
