"""Request and response bodies of login, refresh, logout and password change."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from oja.identity.config import get_identity_settings
from oja.identity.schemas import (
    CURRENT_PASSWORD_SPELLINGS,
    MOBILE_SPELLINGS,
    TOKEN_PAIR_EXAMPLE,
    USER_EXAMPLE,
    Password,
    SeedClientBody,
    UserOut,
)
from oja.identity.sessions.service import IssuedTokens, MfaRequired, SignIn


class LoginRequest(SeedClientBody):
    """JSON login; the OAuth2 password form (``username``, ``password``) is accepted too."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {"email": "ada@example.com", "password": "correct horse battery"},
                {"mobile": "+2348031234567", "password": "correct horse battery"},
                {"username": "ada@example.com", "password": "correct horse battery"},
            ]
        },
    )

    email: str | None = Field(default=None, max_length=320)
    mobile: str | None = Field(default=None, max_length=32, validation_alias=MOBILE_SPELLINGS)
    username: str | None = Field(default=None, max_length=320)
    password: Password = Field(min_length=1)

    @model_validator(mode="after")
    def _one_identifier(self) -> LoginRequest:
        if not (self.email or self.mobile or self.username):
            raise ValueError("give an email, a mobile number or a username")
        return self

    @property
    def identifier(self) -> str:
        return self.email or self.mobile or self.username or ""


class TokenPair(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [TOKEN_PAIR_EXAMPLE]})

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int = Field(description="Seconds until the access token expires.")


class RefreshRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"refresh_token": "eyJhbGciOiJIUzI1NiIs..."}]}
    )

    refresh_token: str = Field(min_length=1, max_length=4096)


class ChangePasswordRequest(SeedClientBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"current_password": "correct horse battery", "new_password": "new horse staple"}
            ]
        }
    )

    current_password: Password | None = Field(
        default=None,
        description="Required when the account has a password.",
        validation_alias=CURRENT_PASSWORD_SPELLINGS,
    )
    new_password: Password

    @model_validator(mode="after")
    def _long_enough(self) -> ChangePasswordRequest:
        minimum = get_identity_settings().password_min_length
        if len(self.new_password) < minimum:
            raise ValueError(f"the new password must have at least {minimum} characters")
        return self


class PasswordChanged(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"message": "Password changed.", "sessions_revoked": 2}]}
    )

    message: str
    sessions_revoked: int = Field(
        description="Other sessions signed out; the session that made the change stays signed in."
    )


class SignedIn(TokenPair):
    """A new session's token pair and the signed-in user, as ``GET /user/me`` answers it."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{**TOKEN_PAIR_EXAMPLE, "user": USER_EXAMPLE}]}
    )

    user: UserOut


class MfaChallenge(BaseModel):
    """The first factor was right; finish at ``POST /auth/mfa/verify`` within ``expires_in``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"mfa_required": True, "mfa_token": "eyJhbGciOi...", "expires_in": 300}]
        }
    )

    mfa_required: Literal[True] = True
    mfa_token: str
    expires_in: int

    @classmethod
    def of(cls, required: MfaRequired) -> MfaChallenge:
        return cls(mfa_token=required.mfa_token, expires_in=required.expires_in)


def token_pair(issued: IssuedTokens) -> TokenPair:
    return TokenPair(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        expires_in=issued.expires_in,
    )


def signed_in(sign_in: SignIn) -> SignedIn:
    return SignedIn(
        **token_pair(sign_in.tokens).model_dump(), user=UserOut.of(sign_in.user, sign_in.roles)
    )


def signed_in_or_challenge(result: SignIn | MfaRequired) -> SignedIn | MfaChallenge:
    """The answer of a first factor: tokens and the user, or the MFA challenge."""
    if isinstance(result, MfaRequired):
        return MfaChallenge.of(result)
    return signed_in(result)


def login_openapi_body() -> dict[str, Any]:
    """OpenAPI request body for the login route: JSON or the OAuth2 password form."""
    form = {
        "type": "object",
        "required": ["username", "password"],
        "properties": {
            "grant_type": {"type": "string", "enum": ["password"]},
            "username": {"type": "string", "description": "Email or mobile number."},
            "password": {"type": "string", "format": "password"},
            "scope": {"type": "string"},
        },
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": LoginRequest.model_json_schema()},
                "application/x-www-form-urlencoded": {"schema": form},
            },
        }
    }
