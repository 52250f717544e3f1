"""Request bodies of password recovery."""

from __future__ import annotations

from pydantic import (
    ConfigDict,
    Field,
    model_validator,
)

from oja.identity.schemas import (
    MOBILE_SPELLINGS,
    Email,
    Mobile,
    NewPassword,
    OtpDigits,
    SeedClientBody,
)


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
