"""The per-process runtime: settings plus the long-lived clients built from them.

The API builds one in its lifespan; each worker process builds its own after fork (engines and sockets
must never cross a fork). Feature code reaches it through dependencies or :func:`get_runtime`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from oja.core.cache import Cache, create_cache
from oja.core.config import Settings, get_settings
from oja.core.db import Database
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
    started_at: float = field(default_factory=time.time)
    """Unix time this runtime was made: a worker starting beside it is not late before then."""

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        database = Database(
            settings.database_url,
            echo=settings.db.database_echo,
            pool_size=settings.db.database_pool_size,
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
        return cls(
            settings=settings,
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
        await self.database.dispose()
        await self.rate_limiter.aclose()
        await self.storage.close()
        if self.redis is not None:
            await self.redis.aclose()


async def _check_redis(runtime: Runtime) -> None:
    assert runtime.redis is not None
    await runtime.redis.ping()


_runtime: Runtime | None = None


def set_runtime(runtime: Runtime | None) -> None:
    global _runtime
    _runtime = runtime


def get_runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = Runtime.create(get_settings())
    return _runtime
