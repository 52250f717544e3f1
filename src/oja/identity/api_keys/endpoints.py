"""Routes: ``/keys`` — a user manages their own API keys (another user's key answers 404)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from oja.core.clock import utcnow
from oja.core.dependencies import SessionDep
from oja.core.errors import error_responses
from oja.identity.api_keys import service
from oja.identity.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyOut
from oja.identity.dependencies import ApiKeySettingsDep, UserPrincipal

router = APIRouter(prefix="/keys", tags=["api keys"])


def _created(issued: service.IssuedKey) -> ApiKeyCreated:
    return ApiKeyCreated(**ApiKeyOut.of(issued.row, utcnow()).model_dump(), key=issued.plaintext)


@router.post(
    "/create",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    summary="Create an API key; the key is shown only in this answer",
    responses=error_responses(400, 401, 403, 422),
)
async def create_key(
    body: ApiKeyCreate, principal: UserPrincipal, db: SessionDep, settings: ApiKeySettingsDep
) -> ApiKeyCreated:
    return _created(await service.create(db, principal.user_id, body, settings))


@router.get(
    "",
    response_model=ApiKeyList,
    summary="My API keys, newest first (never the keys themselves)",
    responses=error_responses(401, 403),
)
async def list_keys(principal: UserPrincipal, db: SessionDep) -> ApiKeyList:
    keys = await service.list_keys(db, principal.user_id)
    now = utcnow()
    return ApiKeyList(items=[ApiKeyOut.of(key, now) for key in keys])


@router.post(
    "/{key_id}/revoke",
    response_model=ApiKeyOut,
    summary="Revoke an API key at once (idempotent)",
    responses=error_responses(401, 403, 404),
)
async def revoke_key(key_id: uuid.UUID, principal: UserPrincipal, db: SessionDep) -> ApiKeyOut:
    return ApiKeyOut.of(await service.revoke(db, principal.user_id, key_id), utcnow())


@router.post(
    "/{key_id}/rotate",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    summary="Replace an API key; the old one keeps working for the overlap period, then dies",
    responses=error_responses(401, 403, 404, 409),
)
async def rotate_key(
    key_id: uuid.UUID, principal: UserPrincipal, db: SessionDep, settings: ApiKeySettingsDep
) -> ApiKeyCreated:
    return _created(await service.rotate(db, principal.user_id, key_id, settings))
