"""Roles and scopes: the declared vocabulary of authorisation.

A user token carries every scope of its roles; an API key carries only the scopes it was created
with, chosen from :data:`SCOPES`.
"""

from __future__ import annotations

import enum
from typing import Literal, get_args


class Role(enum.StrEnum):
    buyer = "buyer"
    vendor = "vendor"
    admin = "admin"


DEFAULT_ROLE = Role.buyer

Scope = Literal[
    "files:read",
    "files:write",
    "documents:read",
    "documents:write",
    "query",
    "chat",
    "payments:read",
    "examples:read",
]
SCOPES: frozenset[str] = frozenset(get_args(Scope))
DEFAULT_KEY_SCOPES: tuple[Scope, ...] = tuple(
    sorted(scope for scope in get_args(Scope) if scope.endswith(":read"))
)
"""What a key created without ``scopes`` (by name alone) may do: read, never write, spend or chat,
so that such a key is harmless if it leaks."""

ROLE_SCOPES: dict[str, frozenset[str]] = {
    Role.buyer: SCOPES,
    Role.vendor: SCOPES,
    Role.admin: SCOPES,
}


def scopes_of_roles(roles: frozenset[str] | tuple[str, ...] | list[str]) -> frozenset[str]:
    granted: frozenset[str] = frozenset()
    for role in roles:
        granted |= ROLE_SCOPES.get(role, frozenset())
    return granted
