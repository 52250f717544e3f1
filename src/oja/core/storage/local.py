"""Object storage in a local folder, with HMAC-signed download URLs served by ``storage_endpoints``.

Invariants:

* Every object is a regular file under ``root``; each operation resolves symlinks and refuses a path
  that would land outside it.
* A put writes ``.~*.tmp`` in the target's own directory, fsyncs it, ``os.replace``s it onto the
  key and fsyncs the directory: readers see the old object or the whole new one, never a part.
  ``~`` is not allowed in keys, so no key can name a temporary file. A failed or cancelled put
  removes its temporary file; only a killed process leaves one (safe to delete after a day).
* File I/O runs in worker threads; the event loop never waits on the disk. The temporary file is
  created in the thread that writes the first buffer, so an object of up to one buffer costs one
  hop (create, write, hash, fsync, rename, fsync the directory), or two with ``while_syncing``
  (create, write, hash; then the fsyncs, while the caller's work runs on the event loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import re
import stat
import tempfile
import time
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlencode

from oja.core.storage.base import (
    READ_CHUNK_SIZE,
    ContentType,
    InvalidKey,
    ObjectNotFound,
    StoredObject,
    WhileSyncing,
    run_blocking,
    safe_filename,
    validate_key,
)

# Chunks are coalesced up to this size before a thread hop, so a producer of tiny chunks does not
# pay one hop per chunk; it also bounds what a put holds beyond the producer's current chunk.
WRITE_BUFFER_SIZE = 1024 * 1024
MIN_SIGNING_KEY_BYTES = 32

_EXPIRES = re.compile(r"[0-9]{1,12}")


class LocalStorage:
    """Objects as files under ``root``; ``signing_key`` signs the URLs ``public_url`` serves."""

    def __init__(self, root: Path, signing_key: bytes, public_url: str) -> None:
        if len(signing_key) < MIN_SIGNING_KEY_BYTES:
            raise ValueError(f"the signing key must be at least {MIN_SIGNING_KEY_BYTES} bytes")
        self._root = Path(os.path.realpath(root))
        self._signing_key = signing_key
        self._public_url = public_url.rstrip("/")
        self._signed: dict[tuple[str, str | None], str] = {}
        self._signed_expires = 0

    @property
    def root(self) -> Path:
        return self._root

    def _path(self, key: str) -> Path:
        """The unresolved path for a valid key (no I/O)."""
        return self._root.joinpath(*validate_key(key).split("/"))

    def _contained(self, path: Path) -> Path:
        """The real path, refusing one that a symlink points outside the root (does I/O)."""
        real = Path(os.path.realpath(path))
        if real == self._root or not real.is_relative_to(self._root):
            raise InvalidKey("the object key resolves outside the storage root")
        return real

    async def put(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        content_type: ContentType,
        while_syncing: WhileSyncing | None = None,
    ) -> StoredObject:
        # The content type is not kept (nor awaited): the download endpoint derives it from the
        # key's suffix.
        replacement = _Replacement(self._path(key))
        hasher = hashlib.sha256()
        size = 0
        # The chunks themselves, not a bytearray they are appended to: growing one to 1 MiB from
        # 64 KiB chunks reallocated and copied it at most appends (~0.2 CPU ms an upload on the
        # event loop); the worker thread joins each batch once (see _write).
        pending: list[bytes] = []
        pending_bytes = 0
        try:
            async for chunk in chunks:
                # A full buffer is written only once more bytes come, so the last one goes to the
                # thread with the fsync (or, with while_syncing, the hop just before it).
                if pending_bytes >= WRITE_BUFFER_SIZE:
                    batch, pending, pending_bytes = pending, [], 0
                    await run_blocking(self._write, replacement, hasher, batch)
                size += len(chunk)
                pending.append(chunk)
                pending_bytes += len(chunk)
            if while_syncing is None:
                await run_blocking(self._commit, replacement, hasher, pending)
                return StoredObject(key=key, size=size, sha256=hasher.hexdigest())
            await run_blocking(self._write, replacement, hasher, pending)
            stored = StoredObject(key=key, size=size, sha256=hasher.hexdigest())
            await _sync_alongside(replacement, while_syncing, stored)
            return stored
        except BaseException:
            await run_blocking(_discard, replacement)
            raise

    def _write(self, replacement: _Replacement, hasher: hashlib._Hash, batch: list[bytes]) -> None:
        """Hash and write ``batch``, creating the temporary file first if this is the first one."""
        if replacement.handle is None:
            target = replacement.target = self._contained(replacement.target)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".~", suffix=".tmp")
            replacement.temporary = Path(temporary)
            replacement.handle = os.fdopen(fd, "wb")
        # One join (one copy, here, off the event loop), then one hash update and one write: a
        # call per chunk re-took the GIL per chunk from a busy event loop (+1 ms an upload).
        data = b"".join(batch)
        hasher.update(data)
        replacement.handle.write(data)

    def _commit(self, replacement: _Replacement, hasher: hashlib._Hash, batch: list[bytes]) -> None:
        self._write(replacement, hasher, batch)
        _sync(replacement)

    def open(self, key: str) -> AsyncIterator[bytes]:
        return self._read(self._path(key))

    async def _read(self, path: Path) -> AsyncIterator[bytes]:
        handle = await run_blocking(self._open_file, path)
        try:
            while chunk := await run_blocking(handle.read, READ_CHUNK_SIZE):
                yield chunk
        finally:
            handle.close()

    def _open_file(self, path: Path) -> BinaryIO:
        try:
            return self._contained(path).open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise ObjectNotFound(f"no object at {path.relative_to(self._root)}") from exc

    async def locate(self, key: str) -> tuple[Path, os.stat_result]:
        """The object's file and its stat, for serving it directly; :class:`ObjectNotFound` if
        there is no regular file under the key."""
        return await run_blocking(self._stat, self._path(key))

    def _stat(self, path: Path) -> tuple[Path, os.stat_result]:
        real = self._contained(path)
        try:
            result = real.stat()
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise ObjectNotFound(f"no object at {path.relative_to(self._root)}") from exc
        if not stat.S_ISREG(result.st_mode):
            raise ObjectNotFound(f"no object at {path.relative_to(self._root)}")
        return real, result

    async def exists(self, key: str) -> bool:
        try:
            await self.locate(key)
        except ObjectNotFound:
            return False
        return True

    async def size(self, key: str) -> int:
        _, result = await self.locate(key)
        return result.st_size

    async def delete(self, key: str) -> None:
        await run_blocking(self._unlink, self._path(key))

    def _unlink(self, path: Path) -> None:
        real = self._contained(path)
        # A directory (a prefix of other keys) or a file in the way of the path: no object here.
        with contextlib.suppress(IsADirectoryError, NotADirectoryError):
            real.unlink(missing_ok=True)

    async def signed_url(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        validate_key(key)
        if expires_in <= 0:
            raise ValueError("expires_in must be a positive number of seconds")
        expires = int(time.time()) + expires_in
        name = safe_filename(filename) if filename is not None else None
        # A URL is a function of (key, expires, filename): one signed this second is reused, so a
        # page showing an image again, or the next request for it, costs a dict lookup (issue 25).
        if expires != self._signed_expires:
            self._signed.clear()
            self._signed_expires = expires
        url = self._signed.get((key, name))
        if url is None:
            # The one message format `verify` checks (`_sign`); expires and the hex signature need
            # no URL quoting.
            sig = self._sign(key, expires, name)
            url = f"{self._public_url}/storage/{key}?expires={expires}&sig={sig}"
            if name is not None:
                url += f"&{urlencode({'filename': name})}"
            self._signed[key, name] = url
        return url

    def verify(
        self,
        key: str,
        *,
        expires: str | None,
        sig: str | None,
        filename: str | None,
        now: float | None = None,
    ) -> bool:
        """True if ``sig`` is this store's signature of exactly (key, expires, filename) and
        ``expires`` (unix seconds) has not passed. Compares in constant time."""
        if expires is None or sig is None or not _EXPIRES.fullmatch(expires):
            return False
        deadline = int(expires)
        if (time.time() if now is None else now) > deadline:
            return False
        expected = self._sign(key, deadline, filename)
        return hmac.compare_digest(expected.encode(), sig.encode())

    def _sign(self, key: str, expires: int, filename: str | None) -> str:
        # JSON keeps the fields unambiguous whatever they contain, and tells no filename from "".
        message = json.dumps(["oja.storage.v1", key, expires, filename]).encode()
        return hmac.new(self._signing_key, message, hashlib.sha256).hexdigest()

    async def check(self) -> None:
        await run_blocking(self._probe)

    def _probe(self) -> None:
        # A real write, so a full disk or a read-only remount fails readiness, not the next upload.
        self._root.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=self._root, prefix=".~", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)

    async def close(self) -> None:
        return None


@dataclass
class _Replacement:
    """One put's temporary file. Filled in from the worker thread itself, so a put cancelled while
    a hop runs still knows what to clean up."""

    target: Path
    temporary: Path | None = None
    handle: BinaryIO | None = None
    renamed: bool = False
    """The temporary file is in place under the key."""
    unwanted: bool = False
    """The put failed after the rename (``while_syncing`` raised): the key's object goes too."""


async def _sync_alongside(
    replacement: _Replacement, work: WhileSyncing, stored: StoredObject
) -> None:
    """Make the written object durable in a worker thread while ``work(stored)`` runs on the event
    loop; return once both are done. If the work raises, the object is marked for removal."""
    syncing = asyncio.ensure_future(run_blocking(_sync, replacement))
    try:
        await asyncio.sleep(0)  # the task hands the sync to its thread before the work begins
        await work(stored)
    except BaseException:
        # A thread cannot be stopped: the object is removed only once the sync has returned.
        await asyncio.wait({syncing})
        if not syncing.cancelled():
            syncing.exception()  # retrieved: the work's error is the one to raise
        replacement.unwanted = True
        raise
    await syncing


def _sync(replacement: _Replacement) -> None:
    handle, temporary = replacement.handle, replacement.temporary
    assert handle is not None
    assert temporary is not None
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
    os.replace(temporary, replacement.target)
    replacement.renamed = True
    # The rename itself is durable only once the directory entry is on disk.
    directory = os.open(replacement.target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _discard(replacement: _Replacement) -> None:
    if replacement.handle is not None:
        replacement.handle.close()
    if replacement.temporary is not None:
        replacement.temporary.unlink(missing_ok=True)
    if replacement.unwanted and replacement.renamed:
        replacement.target.unlink(missing_ok=True)
