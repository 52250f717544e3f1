"""Response bodies of Google Sign-In."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

from oja.identity.google.service import GoogleSignInResult
from oja.identity.schemas import (
    TOKEN_PAIR_EXAMPLE,
    USER_EXAMPLE,
    UserOut,
)
from oja.identity.sessions.schemas import signed_in
from oja.identity.sessions.service import MfaRequired


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
                    **TOKEN_PAIR_EXAMPLE,
                    "user": {
                        **USER_EXAMPLE,
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

    @classmethod
    def of(cls, finished: GoogleSignInResult) -> GoogleSignIn:
        user, result = finished.user, finished.result
        answer = {
            "user_id": user.id,
            "email": user.email,
            "name": user.name,
            "created": finished.created,
        }
        if isinstance(result, MfaRequired):
            return cls(**answer, mfa_required=True, mfa_token=result.mfa_token)
        return cls.model_validate({**answer, **signed_in(result).model_dump()})
