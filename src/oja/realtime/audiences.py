"""Who hears a topic, decided by callables that higher modules register.

Topics are ``<kind>:<id>``. ``user:<id>`` is that user's own; every other kind is what a module
above says it is: the marketplace registers ``vendor`` topics for the staff of a store (so a
socket of a staff member subscribes to them on connect) and an ``order`` authorizer (may this user
watch that order). Realtime never imports them; a kind nobody registered is watched by nobody.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable

from sqlalchemy.ext.asyncio import AsyncSession

UserTopics = Callable[[AsyncSession, uuid.UUID], Awaitable[Iterable[str]]]
"""The topics, besides ``user:<id>``, a user's socket subscribes to on connect."""
Authorizer = Callable[[AsyncSession, uuid.UUID, str], Awaitable[bool]]
"""Whether user ``U`` may watch the ``<kind>:<id>`` topic, given the session, ``U`` and ``<id>``."""

_user_topics: list[UserTopics] = []
_authorizers: dict[str, Authorizer] = {}


def user_topic(user_id: uuid.UUID | str) -> str:
    return f"user:{user_id}"


def register_user_topics(resolver: UserTopics) -> None:
    """Add ``resolver`` to what a socket subscribes to on connect. Idempotent."""
    if resolver not in _user_topics:
        _user_topics.append(resolver)


def unregister_user_topics(resolver: UserTopics) -> None:
    if resolver in _user_topics:
        _user_topics.remove(resolver)


def register_authorizer(kind: str, authorizer: Authorizer) -> None:
    """Decide who may watch ``<kind>:<id>`` topics (one authorizer per kind; the last one wins)."""
    if kind == "user" or ":" in kind:
        raise ValueError(f"{kind!r} cannot be registered as a topic kind")
    _authorizers[kind] = authorizer


def unregister_authorizer(kind: str) -> None:
    _authorizers.pop(kind, None)


async def topics_of(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    """Every topic a socket of ``user_id`` subscribes to on connect, ``user:<id>`` first."""
    topics = [user_topic(user_id)]
    for resolver in list(_user_topics):
        topics.extend(await resolver(session, user_id))
    return list(dict.fromkeys(topics))


async def may_watch(session: AsyncSession, user_id: uuid.UUID, topic: str) -> bool:
    kind, separator, ident = topic.partition(":")
    if not separator or not ident:
        return False
    if kind == "user":
        return ident == str(user_id)
    authorizer = _authorizers.get(kind)
    return authorizer is not None and await authorizer(session, user_id, ident)
