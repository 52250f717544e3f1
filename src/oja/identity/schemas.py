"""Field types, shared bodies and the user's bodies of the identity API.

A sub-domain's own bodies sit in its ``schemas`` module; they build on the types here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
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
from oja.identity.models import User
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
    """A request body that also accepts common other spellings of its fields (``phone`` for
    ``mobile``, ``full_name`` for ``name``…) as aliases of Oja's own field names, which OpenAPI
    shows. One field given under two spellings is refused, never silently resolved.
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


TOKEN_PAIR_EXAMPLE: dict[str, Any] = {
    "access_token": "eyJhbGciOiJIUzI1NiIs.eyJzdWIiOiIuLi4ifQ.sig",
    "refresh_token": "eyJhbGciOiJIUzI1NiIs.eyJ0eXAiOiJyZWZyZXNoIn0.sig",
    "token_type": "bearer",
    "expires_in": 900,
}
USER_EXAMPLE: dict[str, Any] = {
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


class UserOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [USER_EXAMPLE]})

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

    @classmethod
    def of(cls, user: User, roles: Iterable[str]) -> UserOut:
        return cls(
            id=user.id,
            user_id=user.id,
            email=user.email,
            mobile=user.mobile,
            name=user.name,
            avatar_url=user.avatar_url,
            locale=user.locale,
            roles=[Role(r) for r in sorted(roles)],
            is_active=user.is_active,
            has_password=user.password_hash is not None,
            email_verified=user.email_verified_at is not None,
            mobile_verified=user.mobile_verified_at is not None,
            email_verified_at=user.email_verified_at,
            mobile_verified_at=user.mobile_verified_at,
            created_at=user.created_at,
            updated_at=user.updated_at,
        )


def _min_password(value: str) -> str:
    minimum = get_identity_settings().password_min_length
    if len(value) < minimum:
        raise ValueError(f"the password must have at least {minimum} characters")
    return value


NewPassword = Annotated[str, Field(max_length=MAX_PASSWORD), AfterValidator(_min_password)]
OtpDigits = Annotated[str, Field(pattern=r"^[0-9]{6}$")]


class Message(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"message": "Done."}]})

    message: str


class LinkSent(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"message": "Check your email.", "expires_in": 1800}]}
    )

    message: str
    expires_in: int


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
