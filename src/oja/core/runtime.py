"""The per-process runtime: settings plus the long-lived clients built from them.

The composition roots build it and pass it on: the API in ``create_app`` (``app.state.runtime``, reached
through dependencies), each worker process its own after fork (engines and sockets must never cross a
fork), handed to every job it runs. There is no process-wide "current runtime": code the framework calls
without arguments (a pydantic validator, a domain-event handler) asks :func:`current_runtime`, the
runtime of the request or job it runs in, which the app's outermost middleware and the job runner set
for the duration of their work (a context variable, like the unit of work's session).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from oja.core.cache import Cache, create_cache
from oja.core.config import Settings, get_settings
from oja.core.db import Database
from oja.core.jobs.definition import Registry
from oja.core.jobs.outbox import Outbox, Publisher, unwired
from oja.core.ratelimit import RateLimiter, create_rate_limiter, redis_pool
from oja.core.storage import Storage, create_storage

Check = Callable[["Runtime"], Awaitable[None]]


@dataclass
class Runtime:
    settings: Settings
    database: Database
    redis: aioredis.Redis | None
    cache: Cache
    storage: Storage
    rate_limiter: RateLimiter
    outbox: Outbox
    """The job kinds this process knows and where their messages go (see :mod:`oja.core.jobs`)."""
    started_at: float = field(default_factory=time.time)
    """Unix time this runtime was made: a worker starting beside it is not late before then."""
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Closes what modules keep per runtime (e.g. the payment providers' pooled HTTP clients)."""

    @classmethod
    def create(
        cls,
        settings: Settings,
        *,
        registry: Registry | None = None,
        publisher: Publisher | None = None,
    ) -> Runtime:
        """The clients for ``settings``; job kinds from ``registry``, messages to ``publisher``
        (without one, publishing fails and is logged: the rows wait for a wired sweeper)."""
        database = Database(
            settings.database_url,
            echo=settings.db.database_echo,
            pool_size=settings.db.database_pool_size,
            pool_timeout=settings.db.database_pool_timeout,
        )
        redis = None
        url, size, wait = (
            settings.redis.redis_url,
            settings.redis.redis_max_connections,
            settings.redis.redis_pool_timeout,
        )
        if url:
            # from_pool: the client owns the pool, so aclose() closes its connections too.
            redis = aioredis.Redis.from_pool(redis_pool(url, max_connections=size, timeout=wait))
        outbox = Outbox(
            registry if registry is not None else Registry(),
            publisher or unwired,
            default_max_attempts=settings.queue.job_max_attempts,
        )
        outbox.install(database)
        return cls(
            settings=settings,
            outbox=outbox,
            database=database,
            redis=redis,
            cache=create_cache(redis),
            storage=create_storage(settings),
            rate_limiter=create_rate_limiter(url, max_connections=size, pool_timeout=wait),
        )

    def extra_checks(self) -> dict[str, Check]:
        """Readiness checks for the optional backing services this runtime uses."""
        checks: dict[str, Check] = {}
        if self.redis is not None:
            checks["redis"] = _check_redis
        return checks

    async def close(self) -> None:
        while self.closers:
            await self.closers.pop()()
        await self.database.dispose()
        await self.rate_limiter.aclose()
        await self.storage.close()
        if self.redis is not None:
            await self.redis.aclose()


async def _check_redis(runtime: Runtime) -> None:
    assert runtime.redis is not None
    await runtime.redis.ping()


_current: contextvars.ContextVar[Runtime | None] = contextvars.ContextVar(
    "oja_runtime", default=None
)


@contextmanager
def running(runtime: Runtime) -> Iterator[Runtime]:
    """Make ``runtime`` the :func:`current_runtime` of the work done inside the block."""
    token = _current.set(runtime)
    try:
        yield runtime
    finally:
        _current.reset(token)


def current_runtime() -> Runtime:
    """The runtime of the request or job this code runs in."""
    runtime = _current.get()
    if runtime is None:
        raise RuntimeError("no request or job is running (see oja.core.runtime.running)")
    return runtime


def current_settings() -> Settings:
    """The settings of the request or job this code runs in; outside one (the CLI, a unit test of a
    schema), the environment's, read afresh."""
    runtime = _current.get()
    return runtime.settings if runtime is not None else get_settings()


class RuntimeMiddleware:
    """Outermost ASGI middleware: every request runs with its app's runtime as the current one."""

    def __init__(self, app: Any, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # What `running` does, without a generator context manager's two frames per request.
        token = _current.set(self.runtime)
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)
