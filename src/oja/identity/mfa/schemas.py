"""Request and response bodies of TOTP MFA."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from oja.identity.schemas import (
    OtpDigits,
    Password,
)


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
