"""Errors of email and phone verification."""

from __future__ import annotations

from oja.core.errors import BadRequest
from oja.identity.errors import IdentityErrorCode


class NoMobile(BadRequest):
    code = IdentityErrorCode.no_mobile


class NoEmail(BadRequest):
    code = IdentityErrorCode.no_email
