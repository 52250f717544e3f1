"""Who may use the admin: a user with the ``admin`` role, signed in with email and password.

The sign-in lives in a signed cookie (Starlette's session middleware, keyed by a derivation of the app
secret) that holds only the user id and the time of sign-in. Every admin request re-reads the user, so
losing the admin role, being disabled or changing the password ends the admin session at once. The
cookie is ``SameSite=Strict``: sqladmin's actions are GET links, and a strict cookie is never sent on
a request another site started.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid

import structlog
from sqladmin.authentication import AuthenticationBackend
from starlette.requests import Request

from oja.core.db import read_only
from oja.core.runtime import Runtime
from oja.identity import repository
from oja.identity.config import IdentitySettings
from oja.identity.errors import LoginLocked
from oja.identity.passwords import get_passwords
from oja.identity.scopes import Role
from oja.identity.throttle import (
    LoginThrottle,
    MemoryThrottleStore,
    RedisThrottleStore,
    ThrottleStore,
    account_key,
    ip_key,
)

log = structlog.get_logger("oja.admin")

SESSION_COOKIE = "oja_admin"
SESSION_TTL = 8 * 3600
"""Seconds an admin sign-in lasts, however active the operator is (the cookie itself slides)."""
LOGIN_ERROR = "admin_login_error"
"""``request.state`` attribute the login template shows instead of sqladmin's generic message."""

INVALID = "Invalid email or password."
NOT_ADMIN = "This account is not an administrator."


def session_key(secret: str) -> str:
    """The cookie signing key: derived from the app secret, so it signs nothing but admin sessions."""
    return hmac.new(secret.encode(), b"oja.admin.session", hashlib.sha256).hexdigest()


class AdminAuth(AuthenticationBackend):
    def __init__(self, runtime: Runtime, identity: IdentitySettings, *, base_url: str) -> None:
        super().__init__(
            secret_key=session_key(runtime.settings.secret_key),
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_TTL,
            path=base_url,
            same_site="strict",
            https_only=runtime.settings.is_production,
        )
        self._runtime = runtime
        self._identity = identity
        store: ThrottleStore = (
            RedisThrottleStore(runtime.redis) if runtime.redis else MemoryThrottleStore()
        )
        self._throttle = LoginThrottle(store, identity)

    async def login(self, request: Request) -> bool:
        form = await request.form()
        email, password = form.get("email"), form.get("password")
        if not isinstance(email, str) or not isinstance(password, str) or "@" not in email:
            return _refuse(request, INVALID)
        email = email.strip().lower()
        ip = request.client.host if request.client else ""
        keys = (account_key(email), ip_key(ip))
        try:
            await self._throttle.check(*keys)
        except LoginLocked as exc:
            wait = exc.details["retry_after"]
            return _refuse(request, f"Too many failed sign-ins. Try again in {wait} seconds.")
        async with read_only(self._runtime.database) as db:
            user = await repository.user_by_email(db, email)
            ok, _ = await get_passwords(self._identity).verify(
                password, user.password_hash if user else None
            )
            if user is None or not ok or not user.is_active:
                await self._throttle.failed(*keys)
                log.info("admin.login.failed", account=keys[0], ip=ip)
                return _refuse(request, INVALID)
            await self._throttle.succeeded(keys[0])
            if Role.admin not in await repository.roles_of(db, user.id):
                log.info("admin.login.refused", user_id=str(user.id), reason="not_admin")
                return _refuse(request, NOT_ADMIN)
        request.session.clear()
        request.session.update({"user_id": str(user.id), "signed_in_at": time.time()})
        log.info("admin.login.succeeded", user_id=str(user.id))
        return True

    async def logout(self, request: Request) -> bool:
        request.session.clear()
        return True

    async def authenticate(self, request: Request) -> bool:
        user_id, signed_in_at = request.session.get("user_id"), request.session.get("signed_in_at")
        if not isinstance(user_id, str) or not isinstance(signed_in_at, float | int):
            return False
        if time.time() - signed_in_at > SESSION_TTL:
            request.session.clear()
            return False
        async with read_only(self._runtime.database) as db:
            user = await repository.user_by_id(db, uuid.UUID(user_id))
            admitted = (
                user is not None
                and user.is_active
                and (
                    user.password_changed_at is None
                    or user.password_changed_at.timestamp() <= signed_in_at
                )
                and Role.admin in await repository.roles_of(db, user.id)
            )
        if not admitted:
            request.session.clear()
        return admitted


def _refuse(request: Request, message: str) -> bool:
    setattr(request.state, LOGIN_ERROR, message)
    return False
