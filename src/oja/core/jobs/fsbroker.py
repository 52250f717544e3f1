"""The embedded broker: kombu's filesystem transport, made safe to read while others write.

kombu's own transport creates a message file, then writes it, and its reader takes no lock, so a
worker can read an empty file and die of the ``JSONDecodeError`` (celery/kombu#1551). Here:

- a message is written under a temporary name the reader never matches (``.<name>.tmp``) and renamed
  into place, so a file under a message name is always complete;
- a consumer claims a file by renaming it into ``claimed/`` (one rename wins), reads it there, and a
  file that is empty, truncated or not JSON is moved to ``corrupt/`` and logged — never raised, so a
  garbage file cannot stop the worker;
- the poll loop also wakes up as soon as a task is acknowledged, instead of sleeping a full polling
  interval whenever every worker slot was busy (that sleep bounded kombu's transport to about
  ``concurrency / polling_interval`` jobs per second).

No fsync: the job row is the durable record (its commit is fsynced by the database); a message lost
or torn by a power cut is moved aside here and published again by the sweeper.
"""

from __future__ import annotations

import os
import threading
import uuid
from functools import cached_property
from pathlib import Path
from queue import Empty
from time import monotonic
from typing import Any, cast

import structlog
from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps, loads

log = structlog.get_logger("oja.jobs")

TRANSPORT = "oja.core.jobs.fsbroker:Transport"
"""What Celery and kombu load for a ``filesystem://`` broker URL."""


class Channel(filesystem.Channel):
    def _folder(self, option: str, default: str) -> str:
        folder = self.transport_options.get(option) or os.path.join(
            os.path.dirname(os.path.abspath(self.data_folder_in)), default
        )
        os.makedirs(folder, exist_ok=True)
        return str(folder)

    @cached_property
    def claimed_folder(self) -> str:
        return self._folder("claimed_folder", "claimed")

    @cached_property
    def corrupt_folder(self) -> str:
        return self._folder("corrupt_folder", "corrupt")

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        # The name sorts by time as kombu's does; the reader only matches `<…>.<queue>.msg`, and
        # `.<name>.tmp` partitions on its leading dot into something that never ends in `.msg`.
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        temporary = os.path.join(self.data_folder_out, f".{name}.tmp")
        try:
            with open(temporary, "wb") as handle:
                handle.write(dumps(payload).encode())
            os.rename(temporary, final)
        except OSError as exc:
            Path(temporary).unlink(missing_ok=True)
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            claimed = os.path.join(self.claimed_folder, name)
            try:
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except OSError:  # another consumer claimed it first
                continue
            try:
                with open(claimed, "rb") as handle:
                    raw = handle.read()
                payload = loads(raw.decode())
            except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError included
                self._set_aside(claimed, name, exc)
                continue
            Path(claimed).unlink(missing_ok=True)
            return payload
        raise Empty()

    def _set_aside(self, claimed: str, name: str, exc: Exception) -> None:
        corrupt = os.path.join(self.corrupt_folder, name)
        try:
            size: int | None = os.path.getsize(claimed)
            os.replace(claimed, corrupt)
        except OSError:
            size = None
        log.error(
            "jobs.broker.corrupt_message",
            file=name,
            size=size,
            moved_to=corrupt,
            error=f"{type(exc).__name__}: {exc}"[:200],
        )

    def basic_ack(self, delivery_tag: Any, multiple: bool = False) -> None:
        super().basic_ack(delivery_tag, multiple=multiple)
        self._transport.slot_freed.set()

    def basic_reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        super().basic_reject(delivery_tag, requeue=requeue)
        self._transport.slot_freed.set()

    @property
    def _transport(self) -> Transport:
        return cast("Transport", self.connection)


class Transport(filesystem.Transport):
    Channel = Channel

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self.slot_freed = threading.Event()

    def drain_events(self, connection: Any, timeout: float | None = None) -> None:  # type: ignore[override]
        """kombu's loop, except that the wait between polls ends early when a task is acknowledged
        (acks come from the pool's result thread): a free slot is filled at once."""
        assert self.cycle is not None
        started = monotonic()
        interval = self.polling_interval or 0.0
        if timeout:
            interval = min(interval, timeout)
        while True:
            self.slot_freed.clear()
            try:
                self.cycle.get(self._deliver, timeout=timeout)
            except Empty:
                if timeout is not None and monotonic() - started >= timeout:
                    raise TimeoutError() from None
                self.slot_freed.wait(interval)
            else:
                return
