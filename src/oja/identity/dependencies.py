"""Who is calling: a :class:`Principal` from a user JWT or an API key, and the checks on it.

Accepted credentials: ``Authorization: Bearer <jwt>``, ``Authorization: Bearer oja_sk_…`` and
``X-API-Key: oja_sk_…``. Every access token's session is looked up on every request — one SELECT
joining the session, its user and the user's roles, outside any transaction — so logout, password
change, reuse detection, role changes, disabling and deletion take effect on the next request, and
a user route needs no further query to know who is calling. One route, ``POST /upload`` on
PostgreSQL, has its one write carry that check instead (:data:`DeferredPrincipal`,
:class:`PendingSession`).

Named dependencies: :data:`CurrentPrincipal` (user or key), :data:`CurrentUser` (user tokens only,
gives the :class:`User` in the request's unit of work), :data:`SignedInUser` (the same, detached,
for routes that only read it), :data:`UserPrincipal`, :data:`ServicePrincipal` (keys only),
:func:`RequireRole` and :func:`RequireScopes`. What each can answer is listed once, for a route's
``responses=errors(...)``: :data:`AUTH_ERRORS`, :data:`USER_ERRORS`, :data:`SERVICE_ERRORS` and
:data:`SCOPED_ERRORS`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, NoReturn

import structlog
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy import ColumnElement

from oja.channels.config import ChannelSettings
from oja.core.clock import utcnow
from oja.core.db import Database, own_transaction
from oja.core.dependencies import RuntimeDep, SessionDep, provided
from oja.core.errors import OjaError
from oja.core.runtime import Runtime
from oja.identity import tokens
from oja.identity.api_keys import service as api_key_service
from oja.identity.api_keys.config import ApiKeySettings, get_api_key_settings
from oja.identity.api_keys.service import KEY_PREFIX
from oja.identity.config import (
    GoogleSettings,
    IdentitySettings,
    get_google_settings,
    get_identity_settings,
)
from oja.identity.delivery import Messenger, get_notification_settings
from oja.identity.errors import (
    AccountDisabled,
    ApiKeyExpired,
    ApiKeyInvalid,
    ApiKeyRevoked,
    InsufficientScope,
    InvalidToken,
    MissingCredentials,
    SessionRevoked,
    TokenExpired,
    WrongPrincipal,
)
from oja.identity.models import User
from oja.identity.passwords import Passwords, get_passwords
from oja.identity.scopes import scopes_of_roles
from oja.identity.sessions.repository import LIVE_SESSION, AccessState, access_state
from oja.identity.throttle import LoginThrottle, MemoryThrottleStore, RedisThrottleStore
from oja.identity.tokens import TokenContext

AUTH_ERRORS: tuple[type[OjaError], ...] = (
    MissingCredentials,
    InvalidToken,
    TokenExpired,
    SessionRevoked,
    ApiKeyInvalid,
    ApiKeyRevoked,
    ApiKeyExpired,
    AccountDisabled,
)
"""What :data:`CurrentPrincipal` answers: a missing, bad, expired or revoked token or API key, or a
disabled account's token or key (401s)."""
USER_ERRORS: tuple[type[OjaError], ...] = (*AUTH_ERRORS, WrongPrincipal)
"""What :data:`UserPrincipal`, :data:`SignedInUser`, :data:`CurrentUser` and :func:`RequireRole`
answer: :data:`AUTH_ERRORS`, and 403 for an API key or a missing role."""
SERVICE_ERRORS: tuple[type[OjaError], ...] = (*AUTH_ERRORS, WrongPrincipal)
"""What :data:`ServicePrincipal` answers: :data:`AUTH_ERRORS`, and 403 for a user token."""
SCOPED_ERRORS: tuple[type[OjaError], ...] = (*AUTH_ERRORS, InsufficientScope)
"""What :func:`RequireScopes` answers: :data:`AUTH_ERRORS`, and 403 for a scope not granted."""

IdentitySettingsDep = Annotated[IdentitySettings, Depends(get_identity_settings)]
GoogleSettingsDep = Annotated[GoogleSettings, Depends(get_google_settings)]
ChannelSettingsDep = Annotated[ChannelSettings, Depends(get_notification_settings)]
Clock = Callable[[], datetime]


def get_clock() -> Clock:
    """What "now" is for code, link and TOTP expiry; tests override it to travel in time."""
    return utcnow


ClockDep = Annotated[Clock, Depends(get_clock)]


def get_messenger(runtime: RuntimeDep, settings: ChannelSettingsDep) -> Messenger:
    return Messenger(settings=settings, production=runtime.settings.is_production)


MessengerDep = Annotated[Messenger, Depends(get_messenger)]


async def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


ClientIp = Annotated[str, Depends(client_ip)]
ApiKeySettingsDep = Annotated[ApiKeySettings, Depends(get_api_key_settings)]

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="/auth/login",
    auto_error=False,
    description="A user access token from `/auth/login`, or an API key (`oja_sk_…`).",
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API key from `/keys/create`."
)


@dataclass(frozen=True)
class Principal:
    kind: Literal["user", "service"]
    user_id: uuid.UUID
    roles: frozenset[str]
    scopes: frozenset[str]
    session_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    # A user token's session check read these with it (detached from any session): the user and
    # the roles held now, which `roles` (the token's claim) may lag behind.
    user: User | None = field(default=None, compare=False, repr=False)
    current_roles: frozenset[str] = field(default=frozenset(), compare=False)
    # Only from `DeferredPrincipal`: a user token whose session the route's one write checks.
    pending: PendingSession | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class PendingSession:
    """A user token's session, not yet checked: the route's one write carries the check.

    The write adds :attr:`condition` (bound by :meth:`params`) to its statement, so it writes
    nothing unless the session is signed in, and calls :meth:`refuse` when it wrote nothing: the
    same 401 the check would have answered, one round trip later. Any other error the route
    raises first goes through :meth:`confirm`, so a signed-out token still gets its 401 rather
    than, say, a 422 for its body."""

    database: Database
    session_id: uuid.UUID
    user_id: uuid.UUID
    condition: ClassVar[ColumnElement[bool]] = LIVE_SESSION

    def params(self) -> dict[str, uuid.UUID]:
        return {"live_session_id": self.session_id, "live_user_id": self.user_id}

    async def confirm(self) -> None:
        """The session check itself: 401 unless the session is signed in."""
        _refuse_unless_live(await access_state(self.database, self.session_id), self.user_id)

    async def refuse(self) -> NoReturn:
        """The write found the session not signed in: its 401."""
        await self.confirm()
        # Live again since the write? A session is never un-revoked, but an account can be
        # re-enabled in between: the write was refused all the same.
        raise SessionRevoked("This session has been signed out.")


def _refuse_unless_live(state: AccessState | None, user_id: uuid.UUID) -> AccessState:
    """``state`` if it is ``user_id``'s signed-in session of an enabled account; its 401
    otherwise (a disabled account's tokens stop on their next request, as its API keys do)."""
    if state is None or state.user.id != user_id:
        raise InvalidToken("The token is not valid.")
    if state.revoked_at is not None:
        raise SessionRevoked("This session has been signed out.")
    if not state.user.is_active:
        raise AccountDisabled("This account is disabled.")
    return state


def token_context(request: Request) -> TokenContext:
    runtime: Runtime = request.app.state.runtime
    settings = provided(request, get_identity_settings)
    return TokenContext(settings=settings, secret=runtime.settings.secret_key)


async def get_token_context(request: Request) -> TokenContext:
    return token_context(request)


TokenContextDep = Annotated[TokenContext, Depends(get_token_context)]


def get_passwords_dep(settings: IdentitySettingsDep) -> Passwords:
    return get_passwords(settings)


PasswordsDep = Annotated[Passwords, Depends(get_passwords_dep)]


def get_login_throttle(
    request: Request, runtime: RuntimeDep, settings: IdentitySettingsDep
) -> LoginThrottle:
    if runtime.redis is not None:
        return LoginThrottle(RedisThrottleStore(runtime.redis), settings)
    state = request.app.state
    store: MemoryThrottleStore | None = getattr(state, "identity_login_throttle", None)
    if store is None:
        store = MemoryThrottleStore()
        state.identity_login_throttle = store
    return LoginThrottle(store, settings)


LoginThrottleDep = Annotated[LoginThrottle, Depends(get_login_throttle)]


def _remember(request: Request, principal: Principal) -> Principal:
    request.scope.setdefault("state", {})["user_id"] = str(principal.user_id)
    structlog.contextvars.bind_contextvars(user_id=str(principal.user_id))
    return principal


_PRINCIPAL = "oja.principal"
"""The request scope's key for the caller once resolved."""


async def get_principal(
    request: Request,
    bearer: Annotated[str | None, Depends(oauth2_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal:
    """The caller, resolved once per request however many dependencies ask for it (FastAPI's own
    cache only joins identical nodes; :data:`UserPrincipal` calls this directly)."""
    known: Principal | None = request.scope.get(_PRINCIPAL)
    if known is not None:
        return known
    principal = await _resolve_principal(request, bearer, api_key)
    request.scope[_PRINCIPAL] = principal
    return principal


async def _resolve_principal(
    request: Request, bearer: str | None, api_key: str | None
) -> Principal:
    # Each dependency costs FastAPI's solver a node on every request: the runtime and the token
    # context are read here, not declared (the two schemes stay: they are the OpenAPI security).
    database = request.app.state.runtime.database
    if api_key or (bearer and bearer.startswith(KEY_PREFIX)):
        key = api_key or bearer or ""
        key_settings = provided(request, get_api_key_settings)
        # A short transaction of its own, before the request's begins: on SQLite the last-used stamp
        # would otherwise hold the single write lock for the whole request (and a snapshot taken
        # before a concurrent commit could not be upgraded to a write).
        async with own_transaction(database) as auth_db:
            identity = await api_key_service.authenticate(auth_db, key, key_settings)
            if identity.last_used_stale:
                await api_key_service.record_use(auth_db, identity.api_key_id, key_settings)
        principal = Principal(
            kind="service",
            user_id=identity.user_id,
            roles=frozenset(),
            scopes=identity.scopes,
            api_key_id=identity.api_key_id,
        )
        return _remember(request, principal)
    if not bearer:
        raise MissingCredentials("Send `Authorization: Bearer <token>` or `X-API-Key`.")
    ctx = token_context(request)
    claims = tokens.decode(bearer, typ="access", secret=ctx.secret, settings=ctx.settings)
    state = _refuse_unless_live(await access_state(database, claims.session_id), claims.user_id)
    principal = _user_principal(claims, user=state.user, current_roles=state.roles)
    return _remember(request, principal)


def _user_principal(
    claims: tokens.TokenClaims,
    *,
    user: User | None = None,
    current_roles: frozenset[str] = frozenset(),
    pending: PendingSession | None = None,
) -> Principal:
    """A user token's principal: its scopes are its roles' (the token's claim)."""
    roles = frozenset(claims.roles)
    return Principal(
        kind="user",
        user_id=claims.user_id,
        roles=roles,
        scopes=scopes_of_roles(roles),
        session_id=claims.session_id,
        user=user,
        current_roles=current_roles,
        pending=pending,
    )


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def get_deferred_principal(
    request: Request,
    bearer: Annotated[str | None, Depends(oauth2_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal:
    """:func:`get_principal` for a route whose one write checks a user token's session itself
    (``principal.pending``, a :class:`PendingSession`), saving the request a round trip: the
    token's signature, expiry and claims are checked here, its session by that write (on
    PostgreSQL, whose INSERT … SELECT … WHERE EXISTS carries it; a write that cannot carry it
    calls :meth:`PendingSession.confirm` before it writes). For API keys the principal is
    :func:`get_principal`'s. ``principal.user`` and ``current_roles`` are not read: a route
    that needs them uses :data:`CurrentPrincipal`.

    The trade-off: a token signed out while still unexpired can send one body before its 401
    (rate-limited per user as any upload); nothing it sends is kept."""
    if api_key or not bearer or bearer.startswith(KEY_PREFIX):
        return await get_principal(request, bearer, api_key)
    ctx = token_context(request)
    claims = tokens.decode(bearer, typ="access", secret=ctx.secret, settings=ctx.settings)
    database = request.app.state.runtime.database
    pending = PendingSession(database, claims.session_id, claims.user_id)
    return _remember(request, _user_principal(claims, pending=pending))


DeferredPrincipal = Annotated[Principal, Depends(get_deferred_principal)]


async def get_optional_principal(
    request: Request,
    bearer: Annotated[str | None, Depends(oauth2_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal | None:
    """The caller on a public route that tells callers apart: None without credentials; bad
    credentials are still a 401. One resolution per request, however many dependencies ask."""
    if not bearer and not api_key:
        return None
    return await get_principal(request, bearer, api_key)


OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]


async def require_user_principal(principal: Principal) -> Principal:
    if principal.kind != "user":
        raise WrongPrincipal("This route needs a user token, not an API key.")
    return principal


async def get_user_principal(
    request: Request,
    bearer: Annotated[str | None, Depends(oauth2_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal:
    """:data:`CurrentPrincipal`, which must be a user's. It declares the two schemes itself rather
    than depend on :data:`CurrentPrincipal`: one node fewer for FastAPI to solve on every user
    route (the OpenAPI security is the same)."""
    return await require_user_principal(await get_principal(request, bearer, api_key))


UserPrincipal = Annotated[Principal, Depends(get_user_principal)]


def signed_in_user(principal: Principal) -> User:
    """The user of a user principal as the session check read it, detached from any session;
    :class:`AccountDisabled` if the account is disabled. Changes to it are never saved."""
    user = principal.user
    if user is None:
        raise InvalidToken("The token is not valid.")
    if not user.is_active:
        raise AccountDisabled("This account is disabled.")
    return user


async def get_signed_in_user(principal: UserPrincipal) -> User:
    """The caller as the session check read it (:func:`signed_in_user`): for routes that only
    read it, which then open no unit of work for it."""
    return signed_in_user(principal)


SignedInUser = Annotated[User, Depends(get_signed_in_user)]


async def get_current_user(user: SignedInUser, db: SessionDep) -> User:
    """The caller, joined to the request's unit of work without a query (``load=False``):
    changes to it are flushed with the request's."""
    return await db.merge(user, load=False)


CurrentUser = Annotated[User, Depends(get_current_user)]


async def require_service_principal(principal: CurrentPrincipal) -> Principal:
    if principal.kind != "service":
        raise WrongPrincipal("This route needs an API key, not a user token.")
    return principal


ServicePrincipal = Annotated[Principal, Depends(require_service_principal)]


def RequireRole(*roles: str) -> Any:
    """Depends on a user holding one of ``roles``. Roles are the ones the session check read from
    the database, so granting or revoking a role takes effect at once on the routes that check it."""

    async def check(principal: UserPrincipal) -> Principal:
        if not principal.current_roles & set(roles):
            raise WrongPrincipal(
                f"This route needs the role {' or '.join(roles)}.", details={"roles": list(roles)}
            )
        return principal

    return Depends(check)


def RequireScopes(*scopes: str, deferred: bool = False) -> Any:
    """Depends on a principal holding every one of ``scopes`` (a user: the scopes of its roles).
    ``deferred``: the principal is :data:`DeferredPrincipal` (its session checked by the route's
    write); a scope refused is still answered after the session check, as it would be without."""

    def refusal(principal: Principal) -> InsufficientScope | None:
        missing = sorted(set(scopes) - principal.scopes)
        if not missing:
            return None
        return InsufficientScope(
            f"Missing scope: {', '.join(missing)}.", details={"missing_scopes": missing}
        )

    async def check(principal: CurrentPrincipal) -> Principal:
        refused = refusal(principal)
        if refused is not None:
            raise refused
        return principal

    async def check_deferred(principal: DeferredPrincipal) -> Principal:
        refused = refusal(principal)
        if refused is not None:
            if principal.pending is not None:
                await principal.pending.confirm()
            raise refused
        return principal

    return Depends(check_deferred if deferred else check)
