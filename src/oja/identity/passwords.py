"""argon2id password hashing, always off the event loop.

A hash costs tens of milliseconds of CPU and ~19 MiB of memory, so it runs in a small dedicated
thread pool (argon2 releases the GIL): the loop keeps serving other requests. The pool's backlog is
bounded too: once ``backlog`` hashes are running or waiting in a process, the next caller gets 429
``busy`` with ``Retry-After`` at once, so a login storm beyond capacity is shed cheaply instead of
queueing into timeouts (every waiting login also holds a database connection). An unknown account
is verified against a dummy hash so that "no such user" and "wrong password" take the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from oja.identity.config import IdentitySettings
from oja.identity.errors import HashingBusy

T = TypeVar("T")
_holding: contextvars.ContextVar[bool] = contextvars.ContextVar("oja_hash_admitted", default=False)


class Passwords:
    def __init__(
        self, *, time_cost: int, memory_cost: int, parallelism: int, threads: int, backlog: int
    ) -> None:
        self._hash = PasswordHash(
            (Argon2Hasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism),)
        )
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="oja-argon2")
        self._dummy: str | None = None
        self.backlog = backlog
        self.outstanding = 0
        """Hashes running or waiting; only the event loop's thread touches it."""

    @contextlib.asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        """Hold one place in the backlog for a whole password check, or be refused with 429 at once.

        A login takes its place before the lockout lookup and the user query, so a shed login costs
        neither a Redis nor a database round trip; hashes inside the block don't queue again."""
        if _holding.get():
            yield
            return
        if self.outstanding >= self.backlog:
            raise HashingBusy(
                "Too many sign-ins are being checked right now; retry in a second.",
                headers={"Retry-After": "1"},
            )
        self.outstanding += 1
        token = _holding.set(True)
        try:
            yield
        finally:
            _holding.reset(token)
            self.outstanding -= 1

    async def _run(self, fn: functools.partial[T]) -> T:
        async with self.admitted():
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def hash(self, password: str) -> str:
        return await self._run(functools.partial(self._hash.hash, password))

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        """``(matches, new_hash)``; ``new_hash`` is set when the stored hash uses old parameters."""
        if password_hash is None:
            if self._dummy is None:
                self._dummy = await self.hash("oja-dummy-password-for-timing")
            await self._run(functools.partial(self._hash.verify_and_update, password, self._dummy))
            return False, None
        return await self._run(
            functools.partial(self._hash.verify_and_update, password, password_hash)
        )


@functools.cache
def _passwords(
    time_cost: int, memory_cost: int, parallelism: int, threads: int, backlog: int
) -> Passwords:
    return Passwords(
        time_cost=time_cost,
        memory_cost=memory_cost,
        parallelism=parallelism,
        threads=threads,
        backlog=backlog,
    )


def get_passwords(settings: IdentitySettings) -> Passwords:
    """One hasher (and thread pool) per parameter set, shared by every request of the process."""
    threads = settings.password_hash_threads or os.cpu_count() or 1
    backlog = settings.password_hash_backlog or 8 * threads
    return _passwords(
        settings.argon2_time_cost,
        settings.argon2_memory_cost,
        settings.argon2_parallelism,
        threads,
        backlog,
    )
