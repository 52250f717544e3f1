"""Users (with their roles) and API keys. Neither a password hash nor a key hash is ever loaded."""

from __future__ import annotations

from typing import Any, ClassVar

from sqladmin import action
from sqladmin.pagination import Pagination
from sqlalchemy import Select, select
from sqlalchemy.orm import defer
from starlette.requests import Request
from starlette.responses import RedirectResponse

from oja.admin import operations
from oja.admin.base import (
    ReadOnlyView,
    back_to_list,
    refuse_cross_site,
    runtime_of,
    selected_ids,
)
from oja.core.db import read_only
from oja.core.errors import OjaError
from oja.identity import repository
from oja.identity.api_keys.models import ApiKey
from oja.identity.models import User
from oja.identity.scopes import Role

ROLES = "roles"
"""A computed column: the user's roles, read in one query per page."""
_PAGE_ROLES = "oja_admin_page_roles"


class UserView(ReadOnlyView, model=User):
    name = "User"
    icon = "fa-solid fa-user"
    column_list: ClassVar[Any] = [
        User.email,
        User.mobile,
        User.name,
        ROLES,
        User.is_active,
        User.created_at,
    ]
    column_details_list: ClassVar[Any] = [
        User.id,
        User.email,
        User.mobile,
        User.name,
        ROLES,
        User.is_active,
        User.locale,
        User.email_verified_at,
        User.mobile_verified_at,
        User.password_changed_at,
        User.created_at,
        User.updated_at,
    ]
    column_labels: ClassVar[Any] = {
        User.email: "Email",
        User.mobile: "Mobile",
        User.name: "Name",
        ROLES: "Roles",
        User.is_active: "Active",
        User.created_at: "Created",
    }
    column_searchable_list: ClassVar[Any] = [User.email, User.mobile]
    column_sortable_list: ClassVar[Any] = [User.email, User.created_at]
    column_default_sort: ClassVar[Any] = [(User.created_at, True)]

    # Fail closed: should a template or formatter ever reach for the hash, the page errors instead.
    def list_query(self, request: Request) -> Select[Any]:
        return select(User).options(defer(User.password_hash, raiseload=True))

    def details_query(self, request: Request) -> Select[Any]:
        return super().details_query(request).options(defer(User.password_hash, raiseload=True))

    async def list(self, request: Request) -> Pagination:
        page = await super().list(request)
        async with read_only(runtime_of(request).database) as db:
            roles = await repository.roles_of_many(db, [user.id for user in page.rows])
        setattr(request.state, _PAGE_ROLES, roles)
        return page

    async def get_list_value(
        self, obj: Any, prop: str, request: Request | None = None
    ) -> tuple[Any, Any]:
        if prop == ROLES and request is not None:
            roles: list[str] = getattr(request.state, _PAGE_ROLES, {}).get(obj.id, [])
            return roles, ", ".join(roles)
        return await super().get_list_value(obj, prop, request)

    async def get_detail_value(
        self, obj: Any, prop: str, request: Request | None = None
    ) -> tuple[Any, Any]:
        if prop == ROLES and request is not None:
            async with read_only(runtime_of(request).database) as db:
                roles = await repository.roles_of(db, obj.id)
            return roles, ", ".join(roles)
        return await super().get_detail_value(obj, prop, request)

    async def _change_role(self, request: Request, role: Role, *, grant: bool) -> RedirectResponse:
        refuse_cross_site(request)
        user_ids = selected_ids(request)
        try:
            await operations.change_role(runtime_of(request).database, user_ids, role, grant=grant)
        except OjaError as exc:
            return back_to_list(self, request, exc.message, ok=False)
        verb = "Granted" if grant else "Revoked"
        return back_to_list(self, request, f"{verb} {role} for {len(user_ids)} user(s).")

    @action("grant-admin", "Grant admin", "Give the selected users the admin role?")
    async def grant_admin(self, request: Request) -> RedirectResponse:
        return await self._change_role(request, Role.admin, grant=True)

    @action("revoke-admin", "Revoke admin", "Take the admin role from the selected users?")
    async def revoke_admin(self, request: Request) -> RedirectResponse:
        return await self._change_role(request, Role.admin, grant=False)

    @action("grant-vendor", "Grant vendor")
    async def grant_vendor(self, request: Request) -> RedirectResponse:
        return await self._change_role(request, Role.vendor, grant=True)

    @action("revoke-vendor", "Revoke vendor")
    async def revoke_vendor(self, request: Request) -> RedirectResponse:
        return await self._change_role(request, Role.vendor, grant=False)

    @action("grant-buyer", "Grant buyer")
    async def grant_buyer(self, request: Request) -> RedirectResponse:
        return await self._change_role(request, Role.buyer, grant=True)

    @action("revoke-buyer", "Revoke buyer")
    async def revoke_buyer(self, request: Request) -> RedirectResponse:
        return await self._change_role(request, Role.buyer, grant=False)


class ApiKeyView(ReadOnlyView, model=ApiKey):
    name = "API key"
    name_plural = "API keys"
    icon = "fa-solid fa-key"
    column_list: ClassVar[Any] = [
        ApiKey.name,
        ApiKey.prefix,
        ApiKey.user_id,
        ApiKey.scopes,
        ApiKey.created_at,
        ApiKey.expires_at,
        ApiKey.last_used_at,
        ApiKey.revoked_at,
    ]
    column_details_list: ClassVar[Any] = [
        ApiKey.id,
        *column_list,
        ApiKey.replaced_by_id,
    ]
    column_labels: ClassVar[Any] = {
        ApiKey.name: "Name",
        ApiKey.prefix: "Prefix",
        ApiKey.user_id: "Owner",
        ApiKey.scopes: "Scopes",
        ApiKey.created_at: "Created",
        ApiKey.expires_at: "Expires",
        ApiKey.last_used_at: "Last used",
        ApiKey.revoked_at: "Revoked",
    }
    column_searchable_list: ClassVar[Any] = [ApiKey.name, ApiKey.prefix]
    column_sortable_list: ClassVar[Any] = [ApiKey.created_at, ApiKey.last_used_at]
    column_default_sort: ClassVar[Any] = [(ApiKey.created_at, True)]

    def list_query(self, request: Request) -> Select[Any]:
        return select(ApiKey).options(defer(ApiKey.key_hash, raiseload=True))

    def details_query(self, request: Request) -> Select[Any]:
        return super().details_query(request).options(defer(ApiKey.key_hash, raiseload=True))

    @action("revoke", "Revoke", "Revoke the selected API keys? Their holders lose access at once.")
    async def revoke(self, request: Request) -> RedirectResponse:
        refuse_cross_site(request)
        revoked = await operations.revoke_api_keys(
            runtime_of(request).database, selected_ids(request)
        )
        return back_to_list(self, request, f"Revoked {revoked} API key(s).")
