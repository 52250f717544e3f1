"""A ``multipart/form-data`` body read as a stream: the file part flows straight to storage.

python-multipart's push parser is fed the request's chunks as they arrive; its callbacks only
record events, and an async generator hands the file part's bytes on, chunk by chunk. Memory holds
one network chunk (plus the sniffing head), whatever the file size. The file's size limit is
checked on every chunk, so the 413 comes as soon as the limit is passed, before more is read.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from oja.files.errors import InvalidUpload, MalformedUpload, NotMultipart, UploadTooLarge

FILE_FIELD = "file"
MAX_PART_HEADERS = 16
MAX_PART_HEADER_BYTES = 8 * 1024


@dataclass
class _Part:
    name: str | None = None
    filename: str | None = None
    content_type: str | None = None
    role: str = "ignored"  # "file", "field" or "ignored"


@dataclass
class _State:
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    part: _Part = field(default_factory=_Part)
    field_data: bytearray = field(default_factory=bytearray)


class MultipartUpload:
    """One upload body. Call :meth:`read_head`, then consume :meth:`file_chunks` to the end; then
    :attr:`fields` holds every text field, wherever it stood in the body."""

    def __init__(
        self,
        body: AsyncIterator[bytes],
        content_type_header: str | None,
        *,
        max_file_bytes: int,
        field_limits: dict[str, int],
    ) -> None:
        media_type, options = parse_options_header(content_type_header)
        boundary = options.get(b"boundary")
        if media_type != b"multipart/form-data" or not boundary:
            raise NotMultipart(
                "Send the file as multipart/form-data with a `file` part.",
                details={"content_type": content_type_header},
            )
        self._body = body
        self._max_file_bytes = max_file_bytes
        self._field_limits = field_limits
        self._state = _State()
        self._pending: deque[bytes] = deque()
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.declared_content_type: str | None = None
        self.file_seen = False
        self.file_done = False
        self.file_bytes = 0
        self.body_done = False
        self._exhausted = False
        try:
            self._parser = MultipartParser(
                boundary,
                {
                    "on_part_begin": self._on_part_begin,
                    "on_header_field": self._on_header_field,
                    "on_header_value": self._on_header_value,
                    "on_header_end": self._on_header_end,
                    "on_headers_finished": self._on_headers_finished,
                    "on_part_data": self._on_part_data,
                    "on_part_end": self._on_part_end,
                    "on_end": self._on_end,
                },
                max_header_count=MAX_PART_HEADERS,
                max_header_size=MAX_PART_HEADER_BYTES,
            )
        except FormParserError as exc:
            raise MalformedUpload(f"The multipart body is malformed: {exc}") from exc

    # -- parser callbacks: record, never block ------------------------------------------------

    def _on_part_begin(self) -> None:
        self._state = _State()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._state.header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._state.header_value += data[start:end]

    def _on_header_end(self) -> None:
        state = self._state
        state.headers.append((bytes(state.header_field).lower(), bytes(state.header_value)))
        state.header_field.clear()
        state.header_value.clear()

    def _on_headers_finished(self) -> None:
        part = self._state.part
        for name, value in self._state.headers:
            if name == b"content-disposition":
                _, options = parse_options_header(value.decode("latin-1"))
                if b"name" in options:
                    part.name = options[b"name"].decode("utf-8", "replace")
                if b"filename" in options:
                    part.filename = options[b"filename"].decode("utf-8", "replace")
            elif name == b"content-type":
                part.content_type = value.decode("latin-1").strip()[:255] or None
        if part.name == FILE_FIELD and not self.file_seen:
            part.role = "file"
            self.file_seen = True
            self.filename = part.filename
            self.declared_content_type = part.content_type
        elif part.name in self._field_limits and part.name not in self.fields:
            part.role = "field"

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        role = self._state.part.role
        if role == "file":
            self.file_bytes += end - start
            if self.file_bytes > self._max_file_bytes:
                raise UploadTooLarge(
                    f"The file is larger than {self._max_file_bytes} bytes.",
                    details={"max_bytes": self._max_file_bytes},
                )
            self._pending.append(bytes(data[start:end]))
        elif role == "field":
            buffer = self._state.field_data
            buffer += data[start:end]
            name = self._state.part.name
            assert name is not None
            if len(buffer) > self._field_limits[name]:
                raise InvalidUpload(
                    f"The field `{name}` is too long.",
                    details=[{"loc": ["body", name], "msg": "too long", "type": "too_long"}],
                )

    def _on_part_end(self) -> None:
        part = self._state.part
        if part.role == "file":
            self.file_done = True
        elif part.role == "field":
            assert part.name is not None
            try:
                self.fields[part.name] = bytes(self._state.field_data).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidUpload(
                    f"The field `{part.name}` is not UTF-8 text.",
                    details=[{"loc": ["body", part.name], "msg": "not UTF-8", "type": "utf8"}],
                ) from exc

    def _on_end(self) -> None:
        self.body_done = True

    # -- driving ------------------------------------------------------------------------------

    async def _pump(self) -> None:
        """Feed the parser the next chunk of the body."""
        if self._exhausted:
            raise MalformedUpload("The multipart body ended before its closing boundary.")
        try:
            chunk = await anext(self._body, None)
        except ClientDisconnect as exc:
            raise MalformedUpload("The client went away before the body was complete.") from exc
        try:
            if chunk is None:
                self._exhausted = True
                self._parser.finalize()
                if not self.body_done:
                    raise MalformedUpload("The multipart body ended before its closing boundary.")
                return
            if chunk:
                self._parser.write(chunk)
        except FormParserError as exc:
            raise MalformedUpload(f"The multipart body is malformed: {exc}") from exc

    async def read_head(self, size: int) -> bytes:
        """Parse until the file part has given ``size`` bytes or ended; return those bytes.

        Raises :class:`InvalidUpload` if the whole body holds no ``file`` part."""
        while not (self.file_done or (self.file_seen and self.file_bytes >= size)):
            if self.body_done:
                raise InvalidUpload(
                    "The request has no `file` part.",
                    details=[
                        {"loc": ["body", FILE_FIELD], "msg": "Field required", "type": "missing"}
                    ],
                )
            await self._pump()
        head = b"".join(self._pending)
        self._pending.clear()
        self._pending.append(head)
        return head

    async def file_chunks(self) -> AsyncIterator[bytes]:
        """The file part's bytes (the head first), then the rest of the body is parsed so that
        fields sent after the file are read too."""
        while True:
            while self._pending:
                yield self._pending.popleft()
            if self.file_done:
                break
            await self._pump()
        while not self.body_done:
            await self._pump()
            self._pending.clear()


_END = object()
DIRECT_BYTES = 1024 * 1024
""":func:`prefetched` reads this much itself before starting its read-ahead task: the storage
adapters buffer that much (the local one's write buffer) before their first worker-thread hop, so
reading ahead earlier would overlap nothing and only cost a task and a queue round per chunk."""


async def prefetched(
    chunks: AsyncIterator[bytes], depth: int = 16, direct_bytes: int = DIRECT_BYTES
) -> AsyncIterator[bytes]:
    """``chunks``, read ahead by a task of its own into a queue of at most ``depth`` chunks once
    ``direct_bytes`` have passed (until then each is read when asked for).

    Storage adapters hash and write each batch in a worker thread and wait for it; reading ahead
    lets the event loop receive and parse the next network chunks meanwhile, so the two run on
    two cores instead of taking turns. Memory stays bounded by the queue. An error of the reader
    is raised here; if the consumer stops early, the reader is cancelled. A small upload (up to
    ``direct_bytes``) never starts the task: its bytes go to the adapter's buffer as they come.
    """
    passed = 0
    while passed < direct_bytes:
        chunk = await anext(chunks, None)
        if chunk is None:
            return
        passed += len(chunk)
        yield chunk
    # One more read before the task: a body of exactly `direct_bytes` (a 1 MiB upload) ends here,
    # and a task and a queue for nothing cost ~0.07 CPU ms. The chunk read is yielded once the
    # reader has started, so the read-ahead overlaps its handling as before.
    first = await anext(chunks, None)
    if first is None:
        return

    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=depth)

    async def read() -> None:
        try:
            async for chunk in chunks:
                await queue.put(chunk)
        except Exception as exc:  # handed to the consumer, which raises it
            await queue.put(exc)
            return
        await queue.put(_END)

    reader = asyncio.create_task(read())
    try:
        yield first
        while True:
            item = await queue.get()
            if item is _END:
                break
            if isinstance(item, Exception):
                raise item
            assert isinstance(item, bytes)
            yield item
        await reader
    finally:
        if not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


def multipart_openapi(**fields: dict[str, Any]) -> dict[str, Any]:
    """The ``openapi_extra`` of a route that reads a :class:`MultipartUpload`: the required
    ``file`` part and the text ``fields`` (name → JSON schema). The route declares no body
    parameter (it streams the request), so OpenAPI learns the form from this."""
    properties = {FILE_FIELD: {"type": "string", "format": "binary"}, **fields}
    schema = {"type": "object", "required": [FILE_FIELD], "properties": properties}
    return {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    }
