"""Request and response bodies of phone OTP login."""

from __future__ import annotations

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

from oja.identity.schemas import (
    MOBILE_SPELLINGS,
    Mobile,
    OtpDigits,
    SeedClientBody,
)


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
