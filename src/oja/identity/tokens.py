"""JWT access, refresh and MFA tokens: HS256 with the runtime secret, pinned, every claim required.

Claims: ``iss aud sub sid typ iat nbf exp jti`` (+ ``roles`` on access tokens). Tokens carry no
``kid``; a token that names one was not made here and is refused. Encoding is deterministic (fixed
claim order, integer times), which is what lets a refresh replay within the grace window return
the identical pair.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, overload

import jwt

from oja.identity.config import IdentitySettings
from oja.identity.errors import InvalidToken, TokenExpired

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["iss", "aud", "sub", "sid", "typ", "iat", "nbf", "exp", "jti"]
MFA_CLAIMS = ["iss", "aud", "sub", "typ", "iat", "nbf", "exp", "jti", "amr"]
TokenType = Literal["access", "refresh"]


@dataclass(frozen=True)
class TokenContext:
    """What signing and verifying need: the identity settings and the runtime secret."""

    settings: IdentitySettings
    secret: str


@dataclass(frozen=True)
class TokenClaims:
    typ: TokenType
    user_id: uuid.UUID
    session_id: uuid.UUID
    jti: uuid.UUID
    issued_at: datetime
    expires_at: datetime
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class MfaClaims:
    """An MFA token: the user who passed the first factor."""

    user_id: uuid.UUID


def _ts(value: datetime) -> int:
    return int(value.timestamp())


def encode(claims: TokenClaims, *, secret: str, settings: IdentitySettings) -> str:
    payload: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(claims.user_id),
        "sid": str(claims.session_id),
        "typ": claims.typ,
        "iat": _ts(claims.issued_at),
        "nbf": _ts(claims.issued_at),
        "exp": _ts(claims.expires_at),
        "jti": str(claims.jti),
    }
    if claims.typ == "access":
        payload["roles"] = sorted(claims.roles)
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def _refuse_foreign_header(header: dict[str, Any]) -> None:
    if header.get("alg") != ALGORITHM or "kid" in header:
        raise InvalidToken("The token was not issued by this service.")


def _refuse_foreign(token: str) -> None:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken("The token is not valid.") from exc
    _refuse_foreign_header(header)


VERIFIED_CACHE_SIZE = 4096
"""Access tokens whose signature and claims were verified, kept per process (about 1 KB each)."""
_verified: OrderedDict[tuple[str, str, str, str], tuple[TokenClaims, int, int]] = OrderedDict()


@overload
def decode(
    token: str, *, typ: Literal["access", "refresh"], secret: str, settings: IdentitySettings
) -> TokenClaims: ...


@overload
def decode(
    token: str, *, typ: Literal["mfa"], secret: str, settings: IdentitySettings
) -> MfaClaims: ...


def decode(
    token: str, *, typ: TokenType | Literal["mfa"], secret: str, settings: IdentitySettings
) -> TokenClaims | MfaClaims:
    """Verified claims of a token of type ``typ``; else InvalidToken or TokenExpired.

    An access token comes with every request: once verified, its claims are kept (keyed by the
    token, the secret, the audience and the issuer, so a changed key or setting verifies afresh)
    and served again while it is within its ``nbf``/``iat``–``exp`` window — the clock is read as
    PyJWT reads it, so the same token expires at the same instant either way. Nothing that can
    change is cached: the session, the user and the roles are still read on every request.
    """
    if typ != "access":
        return _decode(token, typ=typ, secret=secret, settings=settings)
    key = (token, secret, settings.jwt_audience, settings.jwt_issuer)
    now = datetime.now(tz=UTC).timestamp()
    if (kept := _verified.get(key)) is not None:
        claims, not_before, expires = kept
        if not_before <= now < expires:
            _verified.move_to_end(key)
            return claims
        del _verified[key]
    claims = _decode(token, typ="access", secret=secret, settings=settings)
    # A token that verifies was signed here, where ``nbf`` is always ``iat``.
    _verified[key] = (claims, _ts(claims.issued_at), _ts(claims.expires_at))
    if len(_verified) > VERIFIED_CACHE_SIZE:
        _verified.popitem(last=False)
    return claims


@overload
def _decode(
    token: str, *, typ: Literal["access", "refresh"], secret: str, settings: IdentitySettings
) -> TokenClaims: ...


@overload
def _decode(
    token: str, *, typ: Literal["mfa"], secret: str, settings: IdentitySettings
) -> MfaClaims: ...


def _decode(
    token: str, *, typ: TokenType | Literal["mfa"], secret: str, settings: IdentitySettings
) -> TokenClaims | MfaClaims:
    """Verified claims of a token of type ``typ``, checked in full; else InvalidToken or TokenExpired.

    The one way a token this service issued is read. A token of another type fails for lack of its
    claims (an MFA token has no ``sid``, a session token no ``amr``) or by its ``typ``. The token is
    parsed once on success; only a refused one has its header read again, so the refusal names a
    foreign token (other ``alg``, a ``kid``) before any other fault.
    """
    try:
        decoded = jwt.decode_complete(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": MFA_CLAIMS if typ == "mfa" else REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError as exc:
        _refuse_foreign(token)
        if isinstance(exc, jwt.ExpiredSignatureError):
            raise TokenExpired(_EXPIRED[typ]) from exc
        raise InvalidToken("The token is not valid.") from exc
    _refuse_foreign_header(decoded["header"])
    payload = decoded["payload"]
    if payload["typ"] != typ:
        raise InvalidToken(_WRONG_TYPE[typ])
    try:
        if typ == "mfa":
            return MfaClaims(user_id=uuid.UUID(str(payload["sub"])))
        roles = payload.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise ValueError("roles")
        return TokenClaims(
            typ=typ,
            user_id=uuid.UUID(str(payload["sub"])),
            session_id=uuid.UUID(str(payload["sid"])),
            jti=uuid.UUID(str(payload["jti"])),
            issued_at=datetime.fromtimestamp(int(payload["iat"]), UTC),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
            roles=tuple(roles),
        )
    except (ValueError, TypeError) as exc:
        raise InvalidToken("The token is not valid.") from exc


_EXPIRED = {
    "access": "The token has expired.",
    "refresh": "The token has expired.",
    "mfa": "The MFA token has expired; log in again.",
}
_WRONG_TYPE = {
    "access": "An access token is required here.",
    "refresh": "A refresh token is required here.",
    "mfa": "An MFA token is required here.",
}


def encode_mfa(
    user_id: uuid.UUID,
    *,
    method: str,
    issued_at: datetime,
    ttl: int,
    secret: str,
    settings: IdentitySettings,
) -> str:
    """A short-lived proof that ``user_id`` passed the first factor (``amr``: pwd, otp, google).

    It carries no ``sid``, so it can never pass as an access or refresh token.
    """
    payload: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(user_id),
        "typ": "mfa",
        "iat": _ts(issued_at),
        "nbf": _ts(issued_at),
        "exp": _ts(issued_at) + ttl,
        "jti": str(uuid.uuid4()),
        "amr": [method],
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)
