"""Request and response bodies of email and phone verification."""

from __future__ import annotations

import uuid

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

from oja.identity.models import User
from oja.identity.schemas import (
    MOBILE_SPELLINGS,
    Mobile,
    OtpDigits,
    SeedClientBody,
)


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

    @classmethod
    def of(cls, user: User) -> Verified:
        return cls(
            user_id=user.id,
            email_verified=user.email_verified_at is not None,
            mobile_verified=user.mobile_verified_at is not None,
        )
