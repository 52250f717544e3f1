"""The caller is resolved once per request, however many dependencies ask for it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from oja.identity import dependencies
from oja.identity.dependencies import CurrentPrincipal, Principal, UserPrincipal
from oja.identity.errors import WrongPrincipal

USER = Principal(kind="user", user_id=uuid.UUID(int=1), roles=frozenset(), scopes=frozenset({"a"}))


async def test_user_and_current_principal_resolve_once(monkeypatch: pytest.MonkeyPatch) -> None:
    resolved: list[tuple[str | None, str | None]] = []

    async def resolve(_request: Any, bearer: str | None, api_key: str | None) -> Principal:
        resolved.append((bearer, api_key))
        return USER

    monkeypatch.setattr(dependencies, "_resolve_principal", resolve)
    app = FastAPI()

    @app.get("/both", dependencies=[dependencies.RequireScopes("a")])
    async def both(user: UserPrincipal, anyone: CurrentPrincipal) -> dict[str, bool]:
        return {"same": user is anyone is USER}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://oja") as client:
        first = await client.get("/both", headers={"Authorization": "Bearer t1"})
        second = await client.get("/both", headers={"Authorization": "Bearer t2"})
    assert (first.status_code, first.json()) == (200, {"same": True})
    assert (second.status_code, second.json()) == (200, {"same": True})
    assert resolved == [("t1", None), ("t2", None)]  # once per request, each its own


async def test_a_service_principal_is_refused_by_user_principal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = Principal(
        kind="service", user_id=uuid.UUID(int=2), roles=frozenset(), scopes=frozenset()
    )

    async def resolve(_request: Any, _bearer: str | None, _api_key: str | None) -> Principal:
        return service

    monkeypatch.setattr(dependencies, "_resolve_principal", resolve)
    app = FastAPI()
    seen: list[str] = []

    @app.get("/user")
    async def user(principal: UserPrincipal) -> dict[str, str]:
        seen.append(principal.kind)
        return {}

    @app.exception_handler(WrongPrincipal)
    async def wrong(_request: Any, exc: Exception) -> Any:
        from fastapi.responses import JSONResponse

        return JSONResponse({"refused": str(exc)}, status_code=403)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://oja") as client:
        answer = await client.get("/user", headers={"X-API-Key": "oja_sk_x"})
    assert (answer.status_code, answer.json()) == (
        403,
        {"refused": "This route needs a user token, not an API key."},
    )
    assert seen == []
