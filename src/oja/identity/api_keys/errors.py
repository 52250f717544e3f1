"""API key errors (401s for the credential itself live in ``oja.identity.errors``)."""

from __future__ import annotations

from oja.core.errors import BadRequest, Conflict, NotFound
from oja.identity.errors import IdentityErrorCode


class ApiKeyNotFound(NotFound):
    code = IdentityErrorCode.api_key_not_found


class ApiKeyNotRotatable(Conflict):
    code = IdentityErrorCode.api_key_not_rotatable


class InvalidExpiry(BadRequest):
    code = IdentityErrorCode.invalid_expiry
