"""Request and response bodies of the API key routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from oja.core.dates import IsoAwareDateTime
from oja.identity.api_keys.models import ApiKey
from oja.identity.scopes import DEFAULT_KEY_SCOPES, Scope

_KEY_EXAMPLE: dict[str, JsonValue] = {
    "id": "01936f4e-7c1a-7000-8000-1234567890ac",
    "name": "reporting job",
    "prefix": "oja_sk_Q2x1c3Rl",
    "scopes": ["files:read", "examples:read"],
    "status": "active",
    "created_at": "2026-11-25T12:00:00Z",
    "expires_at": "2027-02-23T12:00:00Z",
    "last_used_at": None,
    "revoked_at": None,
    "replaced_by_id": None,
}


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "reporting job", "scopes": ["files:read"], "expires_in_days": 90},
                {"name": "svc"},
                {
                    "name": "nightly import",
                    "scopes": ["documents:write"],
                    "expires_at": "2027-01-01T00:00:00Z",
                },
            ]
        },
    )

    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(
        default=list(DEFAULT_KEY_SCOPES),
        min_length=1,
        max_length=32,
        description=(
            "What the key may do. Omitted: the read scopes ("
            + ", ".join(f"`{s}`" for s in DEFAULT_KEY_SCOPES)
            + "); name write scopes explicitly."
        ),
        examples=[["files:read"], list(DEFAULT_KEY_SCOPES)],
    )
    # strict: a JSON boolean is not a day count (lax parsing would read true as 1).
    expires_in_days: int | None = Field(default=None, ge=1, le=3650, strict=True)
    expires_at: IsoAwareDateTime | None = None

    @model_validator(mode="after")
    def _one_expiry(self) -> ApiKeyCreate:
        if self.expires_in_days is not None and self.expires_at is not None:
            raise ValueError("give expires_in_days or expires_at, not both")
        return self


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_KEY_EXAMPLE]})

    id: uuid.UUID
    name: str
    prefix: str = Field(description="The first characters of the key, to recognise it.")
    scopes: list[str]
    status: Literal["active", "revoked", "expired"]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    replaced_by_id: uuid.UUID | None = Field(
        description="The key that replaced this one (rotation)."
    )

    @classmethod
    def of(cls, key: ApiKey, now: datetime) -> ApiKeyOut:
        """The key as it stands at ``now`` (its status depends on the time)."""
        return cls(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            scopes=list(key.scopes),
            status=key.status(now),
            created_at=key.created_at,
            expires_at=key.expires_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
            replaced_by_id=key.replaced_by_id,
        )


class ApiKeyCreated(ApiKeyOut):
    """A new key. ``key`` is shown this once; only its hash is kept."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**_KEY_EXAMPLE, "key": "oja_sk_Q2x1c3RlcnMgb2YgcmFuZG9tIGJ5dGVzIGhlcmU"}]
        }
    )

    key: str


class ApiKeyList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_KEY_EXAMPLE]}]})

    items: list[ApiKeyOut]
