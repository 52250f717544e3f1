"""Request and response bodies of the identity API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import phonenumbers
from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    model_validator,
)

from oja.identity.config import get_identity_settings
from oja.identity.scopes import Role

MAX_PASSWORD = 1024  # argon2 accepts more, but a megabyte "password" is a CPU attack


_MOBILE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


def normalize_mobile(value: str) -> str:
    """E.164 form of a phone number.

    With a leading + the number is read as international, from any country. Without, it is read
    under each of OJA_PHONE_DEFAULT_REGIONS in order and the first region where it is a valid
    *mobile* number wins (``8877445566`` is no Nigerian number but an Indian mobile); failing that,
    the first region where it is valid at all (a landline, accepted as it always was).
    """
    international = value.lstrip().startswith("+")
    regions: tuple[str | None, ...] = (
        (None,) if international else get_identity_settings().phone_regions
    )
    chosen: phonenumbers.PhoneNumber | None = None
    for region in regions:
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_valid_number(number):
            continue
        if phonenumbers.number_type(number) in _MOBILE_TYPES:
            chosen = number
            break
        chosen = chosen or number
    if chosen is None:
        raise ValueError("not a valid phone number (give it with its + and country code)")
    return phonenumbers.format_number(chosen, phonenumbers.PhoneNumberFormat.E164)


def _lower(value: str) -> str:
    return value.lower()


MOBILE_SPELLINGS = AliasChoices("mobile", "mobile_number", "phone", "phone_number")
NAME_SPELLINGS = AliasChoices("name", "full_name")
CURRENT_PASSWORD_SPELLINGS = AliasChoices("current_password", "old_password")


class SeedClientBody(BaseModel):
    """A request body that also accepts the spellings clients written from the seeds send
    (``phone`` for ``mobile``, ``full_name`` for ``name``…) as aliases of Oja's own field names,
    which OpenAPI shows. One field given under two spellings is refused, never silently resolved.
    """

    model_config = ConfigDict(populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _one_spelling(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                if isinstance(field.validation_alias, AliasChoices):
                    given = [c for c in field.validation_alias.choices if c in data]
                    if len(given) > 1:
                        raise ValueError(
                            f"give {name} once, not as both {' and '.join(map(str, given))}"
                        )
        return data


Email = Annotated[EmailStr, AfterValidator(_lower)]
Mobile = Annotated[str, Field(min_length=3, max_length=32), AfterValidator(normalize_mobile)]
Password = Annotated[str, Field(max_length=MAX_PASSWORD)]


class SignupRequest(SeedClientBody):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"},
                {"mobile": "+2348031234567", "name": "Chidi"},
            ]
        },
    )

    email: Email | None = None
    mobile: Mobile | None = Field(default=None, validation_alias=MOBILE_SPELLINGS)
    password: Password | None = None
    name: str | None = Field(
        default=None, min_length=1, max_length=200, validation_alias=NAME_SPELLINGS
    )
    avatar_url: HttpUrl | None = None
    locale: str | None = Field(default=None, min_length=2, max_length=35)

    @model_validator(mode="after")
    def _reachable(self) -> SignupRequest:
        if self.email is None and self.mobile is None:
            raise ValueError("give an email, a mobile number or both")
        if self.password is None and self.email is not None:
            raise ValueError("a password is required when signing up with an email")
        minimum = get_identity_settings().password_min_length
        if self.password is not None and len(self.password) < minimum:
            raise ValueError(f"the password must have at least {minimum} characters")
        return self


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


_TOKEN_PAIR_EXAMPLE: dict[str, Any] = {
    "access_token": "eyJhbGciOiJIUzI1NiIs.eyJzdWIiOiIuLi4ifQ.sig",
    "refresh_token": "eyJhbGciOiJIUzI1NiIs.eyJ0eXAiOiJyZWZyZXNoIn0.sig",
    "token_type": "bearer",
    "expires_in": 900,
}
_USER_EXAMPLE: dict[str, Any] = {
    "id": "01936f4e-7c1a-7000-8000-1234567890ab",
    "user_id": "01936f4e-7c1a-7000-8000-1234567890ab",
    "email": "ada@example.com",
    "mobile": "+2348031234567",
    "name": "Ada",
    "avatar_url": None,
    "locale": "en-NG",
    "roles": ["buyer"],
    "is_active": True,
    "has_password": True,
    "email_verified": False,
    "mobile_verified": True,
    "email_verified_at": None,
    "mobile_verified_at": "2026-11-25T12:00:00Z",
    "created_at": "2026-11-25T12:00:00Z",
    "updated_at": "2026-11-25T12:00:00Z",
}


class TokenPair(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_TOKEN_PAIR_EXAMPLE]})

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


class UserOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_USER_EXAMPLE]})

    id: uuid.UUID
    user_id: uuid.UUID = Field(
        description="Same as `id` (the Google sign-in contract names it so)."
    )
    email: str | None
    mobile: str | None
    name: str | None
    avatar_url: str | None
    locale: str | None
    roles: list[Role]
    is_active: bool
    has_password: bool
    email_verified: bool
    mobile_verified: bool
    email_verified_at: datetime | None
    mobile_verified_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SignedIn(TokenPair):
    """A new session's token pair and the signed-in user, as ``GET /user/me`` answers it."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_TOKEN_PAIR_EXAMPLE, "user": _USER_EXAMPLE}]}
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


def _min_password(value: str) -> str:
    minimum = get_identity_settings().password_min_length
    if len(value) < minimum:
        raise ValueError(f"the password must have at least {minimum} characters")
    return value


NewPassword = Annotated[str, Field(max_length=MAX_PASSWORD), AfterValidator(_min_password)]
OtpDigits = Annotated[str, Field(pattern=r"^[0-9]{6}$")]


class SendOtpRequest(SeedClientBody):
    model_config = ConfigDict(json_schema_extra={"examples": [{"mobile": "+2348031234567"}]})

    mobile: Mobile = Field(validation_alias=MOBILE_SPELLINGS)


class OtpSent(BaseModel):
    """``otp`` is present only when OJA_OTP_IN_RESPONSE is on (the mocked flow)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"message": "OTP sent.", "otp": "482913", "expires_in": 300},
                {"message": "OTP sent.", "expires_in": 300},
            ]
        }
    )

    message: str
    otp: str | None = None
    expires_in: int


class VerifyOtpRequest(SeedClientBody):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"mobile": "+2348031234567", "otp": "482913"}]}
    )

    mobile: Mobile = Field(validation_alias=MOBILE_SPELLINGS)
    otp: OtpDigits


class ForgotPasswordRequest(SeedClientBody):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"mobile": "+2348031234567"}, {"email": "ada@example.com"}]
        },
    )

    mobile: Mobile | None = Field(default=None, validation_alias=MOBILE_SPELLINGS)
    email: Email | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ForgotPasswordRequest:
        if (self.mobile is None) == (self.email is None):
            raise ValueError("give either a mobile number or an email")
        return self


class ResetPasswordRequest(SeedClientBody):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"mobile": "+2348031234567", "otp": "482913", "new_password": "new horse staple"},
                {"token": "Zm9vYmFy...", "new_password": "new horse staple"},
            ]
        },
    )

    mobile: Mobile | None = Field(default=None, validation_alias=MOBILE_SPELLINGS)
    otp: OtpDigits | None = None
    token: str | None = Field(default=None, min_length=16, max_length=128)
    new_password: NewPassword

    @model_validator(mode="after")
    def _one_proof(self) -> ResetPasswordRequest:
        by_otp = self.mobile is not None and self.otp is not None
        by_token = self.token is not None
        if by_otp == by_token or (not by_otp and (self.mobile or self.otp)):
            raise ValueError("give either mobile and otp, or token")
        return self


class Message(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"message": "Done."}]})

    message: str


class LinkSent(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"message": "Check your email.", "expires_in": 1800}]}
    )

    message: str
    expires_in: int


class ConfirmEmailRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"token": "Zm9vYmFy..."}]})

    token: str = Field(min_length=16, max_length=128)


class PhoneVerificationRequest(SeedClientBody):
    """``mobile`` is needed only when the account has no number yet."""

    model_config = ConfigDict(json_schema_extra={"examples": [{}, {"mobile": "+2348031234567"}]})

    mobile: Mobile | None = Field(default=None, validation_alias=MOBILE_SPELLINGS)


class ConfirmPhoneRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"otp": "482913"}]})

    otp: OtpDigits


class Verified(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"email_verified": True, "mobile_verified": False, "user_id": "0193..."}]
        }
    )

    user_id: uuid.UUID
    email_verified: bool
    mobile_verified: bool


class GoogleAuthUrl(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"google_auth_url": "https://accounts.google.com/o/oauth2/v2/auth?..."}]
        }
    )

    google_auth_url: str


def _absent(value: object) -> bool:
    return value is None


class GoogleSignIn(BaseModel):
    """The Google contract's fields plus a token pair and the user, or an MFA challenge instead.

    Unused fields are left out of the answer (not ``null``), while ``user`` keeps every field, so
    it is the same shape as ``GET /user/me``.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "01936f4e-7c1a-7000-8000-1234567890ab",
                    "email": "ada@example.com",
                    "name": "Ada Lovelace",
                    "created": False,
                    **_TOKEN_PAIR_EXAMPLE,
                    "user": {
                        **_USER_EXAMPLE,
                        "name": "Ada Lovelace",
                        "email_verified": True,
                        "email_verified_at": "2026-11-25T12:00:00Z",
                    },
                }
            ]
        }
    )

    user_id: uuid.UUID
    email: str | None = Field(exclude_if=_absent)
    name: str | None = Field(exclude_if=_absent)
    created: bool = Field(description="True when this sign-in created the account.")
    access_token: str | None = Field(default=None, exclude_if=_absent)
    refresh_token: str | None = Field(default=None, exclude_if=_absent)
    token_type: Literal["bearer"] | None = Field(default=None, exclude_if=_absent)
    expires_in: int | None = Field(default=None, exclude_if=_absent)
    user: UserOut | None = Field(
        default=None, exclude_if=_absent, description="Present with the tokens."
    )
    mfa_required: bool | None = Field(default=None, exclude_if=_absent)
    mfa_token: str | None = Field(default=None, exclude_if=_absent)


class MfaSetup(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "secret": "JBSWY3DPEHPK3PXP",
                    "otpauth_uri": "otpauth://totp/Oja:ada%40example.com?secret=...&issuer=Oja",
                    "qr_png_base64": "iVBORw0KGgo...",
                }
            ]
        }
    )

    secret: str
    otpauth_uri: str
    qr_png_base64: str


class MfaCodeRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"code": "123456"}]})

    code: OtpDigits


class MfaEnabled(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"mfa_enabled": True, "recovery_codes": ["k3j9d-x8q2m", "..."]}]
        }
    )

    mfa_enabled: Literal[True] = True
    recovery_codes: list[str] = Field(description="Shown once; each works once.")


class MfaVerifyRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"mfa_token": "eyJhbGciOi...", "code": "123456"},
                {"mfa_token": "eyJhbGciOi...", "recovery_code": "k3j9d-x8q2m"},
            ]
        }
    )

    mfa_token: str = Field(min_length=1, max_length=4096)
    code: OtpDigits | None = None
    recovery_code: str | None = Field(default=None, min_length=8, max_length=32)

    @model_validator(mode="after")
    def _one_code(self) -> MfaVerifyRequest:
        if (self.code is None) == (self.recovery_code is None):
            raise ValueError("give either code or recovery_code")
        return self


class MfaDisableRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"password": "correct horse battery", "code": "123456"}]}
    )

    password: Password | None = Field(
        default=None, description="Required when the account has a password."
    )
    code: OtpDigits


class UserPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [], "total": 0, "page": 1, "per_page": 20}]}
    )

    items: list[UserOut]
    total: int
    page: int
    per_page: int


class ExampleAnswer(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "route": "either",
                    "kind": "service",
                    "user_id": "01936f4e-7c1a-7000-8000-1234567890ab",
                    "scopes": ["examples:read"],
                    "api_key_id": "01936f4e-7c1a-7000-8000-1234567890ac",
                }
            ]
        }
    )

    route: str
    kind: Literal["user", "service"]
    user_id: uuid.UUID
    scopes: list[str]
    api_key_id: uuid.UUID | None = None


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
