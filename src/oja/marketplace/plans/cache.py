"""Each store's allowance (plan, limit, interval) cached in the process, so that a counted user's
page view costs one Redis round trip.

With Redis, every change of a store's plan bumps the store's version key (``INCR``) in its unit of
work and again after its commit; the hot path reads the version in the same pipeline as the user's
place and drops an entry whose version moved, so a change made by any process (the webhook worker,
the periodic job) applies on the next request everywhere, and an entry lives
``OJA_VENDOR_PLAN_CACHE_CHECKED_SECONDS``. Without Redis the entry lives
``OJA_VENDOR_PLAN_CACHE_SECONDS`` (the changing process forgets it at once and after its commit).
"""

from __future__ import annotations

import time
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass
class AllowanceCache(Generic[T]):
    ttl: float
    _entries: dict[uuid.UUID, tuple[T, int, float]] = field(default_factory=dict)

    def get(self, vendor_id: uuid.UUID) -> tuple[T, int] | None:
        """The value and the version it was read at, while fresh."""
        found = self._entries.get(vendor_id)
        if found is None or found[2] <= time.monotonic():
            return None
        return found[0], found[1]

    def put(self, vendor_id: uuid.UUID, value: T, version: int) -> None:
        if self.ttl > 0:
            self._entries[vendor_id] = (value, version, time.monotonic() + self.ttl)

    def forget(self, vendor_id: uuid.UUID) -> None:
        self._entries.pop(vendor_id, None)


_per_runtime: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def per_runtime(runtime: Any) -> dict[str, Any]:
    """A dict living as long as ``runtime`` (its database object: runtimes are not hashable)."""
    holder = _per_runtime.get(runtime.database)
    if holder is None:
        holder = _per_runtime[runtime.database] = {}
    return holder
