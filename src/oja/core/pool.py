"""A connection pool whose waiters are served first come, first served.

SQLAlchemy's :class:`~sqlalchemy.pool.AsyncAdaptedQueuePool` keeps its idle connections in an
``asyncio.Queue``. A connection returned to it goes into the queue and wakes the oldest waiter, but
the waiter only runs on a later turn of the event loop; a request arriving in between finds the
connection in the queue and takes it (``get_nowait``), and the woken waiter, finding the queue empty,
queues again *at the back*. Under steady concurrency above the pool size one waiter can lose this way
again and again until its ``pool_timeout`` (5 s) runs out, and the request answers 503 — 4 of ~14,000
``GET /user/me`` at 64 wrk connections with a fixed pool of 20.

:class:`FairQueue` hands a returned connection straight to the oldest waiter, and a newcomer takes
an idle connection only when nobody is waiting, so the wait is FIFO and bounded by the queue ahead.
It also waits on a plain future with a timer instead of ``asyncio.wait_for`` (which, on Python 3.11,
starts a task per wait).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TypeVar

from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry
from sqlalchemy.util.concurrency import await_
from sqlalchemy.util.queue import Empty, Full, QueueCommon

_T = TypeVar("_T")


class FairQueue(QueueCommon[_T]):
    """The pool's idle connections and a FIFO line of the checkouts waiting for one.

    Used only from the event loop's thread (through SQLAlchemy's greenlet bridge), so it needs no
    lock: nothing here awaits between a check and the change that depends on it.
    """

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        self.maxsize = maxsize
        self.use_lifo = use_lifo
        self._items: deque[_T] = deque()
        self._waiters: deque[asyncio.Future[_T]] = deque()

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return 0 < self.maxsize <= len(self._items)

    def qsize(self) -> int:
        return len(self._items)

    def waiting(self) -> int:
        """Checkouts waiting for a connection (for tests and diagnostics)."""
        return sum(1 for waiter in self._waiters if not waiter.done())

    def put_nowait(self, item: _T) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # skip waiters that timed out or were cancelled
                waiter.set_result(item)
                return
        if self.full():
            raise Full()
        self._items.append(item)

    def put(self, item: _T, block: bool = True, timeout: float | None = None) -> None:
        # A pool never blocks to return a connection: a full queue is a bookkeeping error.
        self.put_nowait(item)

    def get_nowait(self) -> _T:
        if not self._items:
            raise Empty()
        return self._items.pop() if self.use_lifo else self._items.popleft()

    def get(self, block: bool = True, timeout: float | None = None) -> _T:
        # Items and waiters never coexist (put hands an item to a waiter before queueing it), so an
        # idle connection here means nobody is ahead of this checkout.
        if self._items or not block:
            return self.get_nowait()
        return await_(self._wait(timeout))

    async def _wait(self, timeout: float | None) -> _T:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[_T] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(timeout, _expire, waiter) if timeout is not None else None
        try:
            return await waiter
        except asyncio.CancelledError:
            # Cancelled (a client gone) just after a connection was handed over: pass it on rather
            # than lose it from the pool.
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.put_nowait(waiter.result())
            raise
        finally:
            if timer is not None:
                timer.cancel()


def _expire(waiter: asyncio.Future[_T]) -> None:
    if not waiter.done():
        waiter.set_exception(Empty())  # QueuePool turns it into its pool TimeoutError


class FairAsyncPool(AsyncAdaptedQueuePool):
    """:class:`~sqlalchemy.pool.AsyncAdaptedQueuePool` with a :class:`FairQueue` (FIFO waiters)."""

    _queue_class: type[QueueCommon[ConnectionPoolEntry]] = FairQueue
