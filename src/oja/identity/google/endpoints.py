"""Routes: ``GET /auth/google`` and ``GET /auth/google/callback``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response

from oja.core.dependencies import RuntimeDep, SessionDep
from oja.core.errors import InvalidRequest, errors
from oja.identity.dependencies import ClientIp, ClockDep, GoogleSettingsDep, TokenContextDep
from oja.identity.errors import AccountDisabled, AccountExists
from oja.identity.google import service
from oja.identity.google.client import GoogleClient, config
from oja.identity.google.errors import (
    GoogleAccountConflict,
    GoogleDenied,
    GoogleInvalidCode,
    GoogleInvalidIdToken,
    GoogleMissingCode,
    GoogleNotConfigured,
    GoogleStateInvalid,
    GoogleUnavailable,
)
from oja.identity.google.schemas import GoogleAuthUrl, GoogleSignIn

router = APIRouter()


def get_google_client(request: Request, runtime: RuntimeDep) -> GoogleClient:
    """One client per app, so discovery and JWKS are fetched once, not per sign-in."""
    state = request.app.state
    client: GoogleClient | None = getattr(state, "identity_google_client", None)
    if client is None:
        http = runtime.settings.http
        client = GoogleClient(timeout=http.http_timeout, retries=http.http_retries)
        state.identity_google_client = client
    return client


GoogleClientDep = Annotated[GoogleClient, Depends(get_google_client)]


def _wants_json(request: Request, format_: str | None) -> bool:
    if format_ == "json":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


@router.get(
    "/google",
    response_model=GoogleAuthUrl,
    summary="Start Google Sign-In: 302 to Google, or its URL as JSON (public)",
    description=(
        "Redirects (302) to Google's consent page with `state`, `nonce` and PKCE (S256); with "
        "`Accept: application/json` or `?format=json` it answers `{google_auth_url}` instead."
    ),
    responses={
        302: {"description": "Redirect to Google"},
        **errors(InvalidRequest, GoogleUnavailable, GoogleNotConfigured),
    },
)
async def google_start(
    *,
    request: Request,
    db: SessionDep,
    runtime: RuntimeDep,
    settings: GoogleSettingsDep,
    ctx: TokenContextDep,
    client: GoogleClientDep,
    clock: ClockDep,
    format_: Annotated[str | None, Query(alias="format", pattern="^(json|redirect)$")] = None,
) -> Response:
    cfg = config(settings, runtime.settings.app.public_url)
    url = await service.start(
        db, client, cfg, secret=ctx.secret, ttl=settings.google_state_ttl, now=clock()
    )
    if _wants_json(request, format_):
        return JSONResponse(GoogleAuthUrl(google_auth_url=url).model_dump())
    return RedirectResponse(
        url, status_code=status.HTTP_302_FOUND, headers={"Cache-Control": "no-store"}
    )


@router.get(
    "/google/callback",
    response_model=GoogleSignIn,
    summary="Finish Google Sign-In: exchange the code, verify the ID token, log in (public)",
    description=(
        "400 for a missing code or an unknown, expired or reused `state`; 401 when Google rejects "
        "the code or the ID token fails a check (signature, iss, aud, exp, nonce); 502 when Google "
        "is unreachable or failing. An account with MFA answers `mfa_required` and `mfa_token` "
        "instead of tokens."
    ),
    responses=errors(
        GoogleDenied,
        GoogleMissingCode,
        GoogleStateInvalid,
        GoogleInvalidCode,
        GoogleInvalidIdToken,
        AccountDisabled,
        GoogleAccountConflict,
        AccountExists,
        InvalidRequest,
        GoogleUnavailable,
        GoogleNotConfigured,
    ),
)
async def google_callback(
    *,
    request: Request,
    db: SessionDep,
    runtime: RuntimeDep,
    settings: GoogleSettingsDep,
    ctx: TokenContextDep,
    client: GoogleClientDep,
    clock: ClockDep,
    ip: ClientIp,
    code: Annotated[str | None, Query(max_length=2048)] = None,
    state: Annotated[str | None, Query(max_length=512)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
) -> GoogleSignIn:
    cfg = config(settings, runtime.settings.app.public_url)
    finished = await service.finish(
        runtime.database,
        db,
        client,
        cfg,
        ctx,
        code=code,
        state=state,
        error=error,
        now=clock(),
        ip=ip,
        user_agent=request.headers.get("user-agent"),
        client_id=request.headers.get("x-client-id"),
    )
    return GoogleSignIn.of(finished)
