"""The object storage port: keys, the :class:`Storage` protocol, and what every adapter shares.

Invariants every adapter keeps:

* A key is validated before anything is touched; a bad key raises :class:`InvalidKey` (a
  ``ValueError``) and has no side effect.
* ``put`` streams: memory holds at most one chunk plus one adapter buffer, never the object. Size
  and SHA-256 are computed on the way in. The object appears whole or not at all: a producer that
  raises or a caller that is cancelled leaves no object, no partial data and no temporary file or
  upload. (Cancelled during its final commit, a put may have stored the whole object.)
* ``delete`` is idempotent; ``open`` and ``size`` raise :class:`ObjectNotFound` for a missing key.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import ParamSpec, Protocol, TypeVar
from urllib.parse import quote

MAX_KEY_LENGTH = 512
MAX_SEGMENT_LENGTH = 255  # NAME_MAX: a longer segment is no file name on any local filesystem
READ_CHUNK_SIZE = 256 * 1024

_SEGMENT = re.compile(rf"[A-Za-z0-9._-]{{1,{MAX_SEGMENT_LENGTH}}}")

P = ParamSpec("P")
T = TypeVar("T")


class StorageError(Exception):
    """Base class of the errors the storage port raises on purpose."""


class InvalidKey(StorageError, ValueError):
    """The key is not a safe relative object name; nothing was read or written."""


class ObjectNotFound(StorageError, LookupError):
    """No object is stored under the key."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    size: int
    sha256: str
    """Lower-case hex digest of exactly the bytes stored."""


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is a safe object name, else raise :class:`InvalidKey`.

    Safe means: 1-512 characters, relative, ``/``-separated, every segment 1-255 characters of
    ``[A-Za-z0-9._-]`` only, and no ``..`` anywhere (nor a ``.`` segment, which would alias another
    key). That rules out absolute paths, traversal, backslashes, NUL, and empty segments.
    """
    if not isinstance(key, str) or not key:
        raise InvalidKey("an object key must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"an object key is at most {MAX_KEY_LENGTH} characters")
    if ".." in key:
        raise InvalidKey("an object key must not contain '..'")
    for segment in key.split("/"):
        if segment == "." or not _SEGMENT.fullmatch(segment):
            raise InvalidKey(
                "an object key is '/'-separated segments of 1-255 characters of [A-Za-z0-9._-], "
                "relative, without '.' or '..'"
            )
    return key


def safe_filename(filename: str) -> str:
    """A download name with no path, no control or quoting characters, at most 150 characters."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        ch for ch in name if unicodedata.category(ch)[0] != "C" and ch not in "\"'`;<>|:*?"
    )
    name = name.strip(" .")[:150]
    return name or "download"


def content_disposition(filename: str) -> str:
    """An ``attachment`` header value: an ASCII fallback plus the RFC 5987 UTF-8 name."""
    name = safe_filename(filename)
    fallback = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


async def run_blocking(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking I/O in a worker thread without ever leaving it running behind our back.

    A thread cannot be stopped. If the caller is cancelled we still wait for the call to return
    before re-raising, so the caller's cleanup (close, unlink, abort an upload) never races a write
    or an upload still in flight on the same file descriptor or multipart upload.
    """
    future = asyncio.ensure_future(asyncio.to_thread(fn, *args, **kwargs))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait({future})
        if not future.cancelled():
            future.exception()  # retrieved: the cancellation is what the caller must see
        raise


WhileSyncing = Callable[[StoredObject], Awaitable[None]]
"""Work a caller overlaps with a put's durable commit: it gets the size and digest of every byte
written, and the put returns only once both are done (see :meth:`Storage.put`)."""

ContentType = str | Awaitable[str]
"""A put's content type, or an awaitable of it that an adapter awaits only if it keeps the type
(S3, before its first request); the local adapter keeps none and never awaits it. An awaitable
lets the files service sniff the type while the local adapter writes and fsyncs the object."""


class Storage(Protocol):
    """Where object bytes live. Adapters: :class:`~oja.core.storage.local.LocalStorage` and
    :class:`~oja.core.storage.s3.S3Storage`."""

    async def put(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        content_type: ContentType,
        while_syncing: WhileSyncing | None = None,
    ) -> StoredObject:
        """Store the bytes of ``chunks`` under ``key``, replacing any object there, atomically.

        ``while_syncing``, if given, is awaited with the :class:`StoredObject` once every byte is
        written and hashed, while the adapter makes the object durable (the local adapter's
        fsyncs run meanwhile; S3 has nothing to overlap and calls it once the object is stored).
        The put returns only when both are done, so the object is durable before the caller goes
        on. If it raises, the object is removed (an object the key held before is gone too) and
        its error raised."""
        ...

    def open(self, key: str) -> AsyncIterator[bytes]:
        """Stream the object's bytes. The key is checked at call time; :class:`ObjectNotFound` is
        raised by the first iteration."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; a missing object is not an error."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def size(self, key: str) -> int:
        """The object's size in bytes, or :class:`ObjectNotFound`."""
        ...

    async def signed_url(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        """A URL anyone may GET for ``expires_in`` seconds; with ``filename`` it downloads as an
        attachment of that (sanitised) name. Does not check that the object exists."""
        ...

    async def check(self) -> None:
        """Readiness: return if the store is usable, raise otherwise."""
        ...

    async def close(self) -> None:
        """Release connections; the instance is not used afterwards."""
        ...
