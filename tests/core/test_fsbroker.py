"""The embedded (filesystem) broker: whole messages only, and a garbage file never stops a worker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from queue import Empty

import pytest
import structlog
from kombu import Connection
from kombu.transport.virtual import Channel as VirtualChannel

from oja.core.config import Settings
from oja.core.db import unit_of_work
from oja.core.jobs import JobStatus
from oja.core.jobs.celery_app import broker_options, broker_transport
from oja.core.jobs.fsbroker import Transport
from oja.core.runtime import Runtime
from tests.conftest import make_settings
from tests.core.job_fixtures import record_effect
from tests.core.test_worker import (
    effects,
    runtime,  # noqa: F401 - a fixture, over `broker_url` below
    wait_for_status,
    worker,
)

GARBAGE = {
    "0001_empty.default.msg": b"",
    "0002_truncated.default.msg": b'{"body": "eyJ0YXNrIjo", "content-type": "applic',
    "0003_binary.default.msg": b"\xff\xfe\x00garbage",
}


@pytest.fixture
def channel(tmp_path: Path) -> Iterator[VirtualChannel]:
    settings = make_settings(tmp_path, "sqlite+aiosqlite:///unused.db")
    with Connection(
        settings.broker_url,
        transport=broker_transport(settings),
        transport_options=broker_options(settings),
    ) as connection:
        assert isinstance(connection.transport, Transport)
        yield connection.default_channel


def queue_folder(tmp_path: Path, name: str) -> list[str]:
    return sorted(p.name for p in (tmp_path / "var" / "queue" / name).iterdir())


def test_a_message_appears_only_whole_under_its_final_name(
    channel: VirtualChannel, tmp_path: Path
) -> None:
    channel._put("default", {"body": "x" * 10_000})
    [name] = queue_folder(tmp_path, "messages")
    assert name.endswith(".default.msg")
    assert not name.startswith(".")
    assert channel._get("default") == {"body": "x" * 10_000}
    assert queue_folder(tmp_path, "messages") == []
    assert queue_folder(tmp_path, "claimed") == []


def test_empty_truncated_and_garbage_files_are_set_aside_and_the_next_message_delivered(
    channel: VirtualChannel, tmp_path: Path
) -> None:
    messages = tmp_path / "var" / "queue" / "messages"
    for name, content in GARBAGE.items():
        (messages / name).write_bytes(content)
    channel._put("default", {"body": "next"})
    with structlog.testing.capture_logs() as logs:
        assert channel._get("default") == {"body": "next"}
        with pytest.raises(Empty):
            channel._get("default")
    assert queue_folder(tmp_path, "corrupt") == sorted(GARBAGE)
    for name, content in GARBAGE.items():
        assert (tmp_path / "var" / "queue" / "corrupt" / name).read_bytes() == content
    assert queue_folder(tmp_path, "messages") == []
    assert queue_folder(tmp_path, "claimed") == []
    assert sorted(e["file"] for e in logs if e["event"] == "jobs.broker.corrupt_message") == sorted(
        GARBAGE
    )


def test_a_reader_racing_a_writer_gets_every_message_once_and_none_corrupt(
    channel: VirtualChannel, tmp_path: Path
) -> None:
    count = 300
    writer = threading.Thread(
        target=lambda: [channel._put("default", {"n": n}) for n in range(count)]
    )
    received: list[int] = []
    writer.start()
    while len(received) < count:
        try:
            received.append(channel._get("default")["n"])
        except Empty:
            assert writer.is_alive() or queue_folder(tmp_path, "messages"), received
    writer.join()
    assert sorted(received) == list(range(count))
    assert not (tmp_path / "var" / "queue" / "corrupt").exists()


@pytest.fixture
def broker_url() -> str:
    """:func:`tests.core.test_worker.runtime` on the embedded broker only."""
    return "filesystem://"


@pytest.mark.slow
async def test_a_worker_survives_garbage_in_the_broker_folder_and_runs_the_next_job(
    runtime: Runtime,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    settings: Settings = runtime.settings
    log = tmp_path / "worker.log"
    messages = settings.queue_dir / "messages"
    messages.mkdir(parents=True, exist_ok=True)
    with worker(settings, "filesystem://", log) as process:
        for name, content in GARBAGE.items():
            (messages / name).write_bytes(content)
        async with unit_of_work(runtime.database) as session:
            row = record_effect.enqueue(session, label="after-garbage")
        done = await wait_for_status(runtime, row.id, {JobStatus.succeeded, JobStatus.failed})
        assert process.poll() is None, log.read_text()[-3000:]
    assert done.status == JobStatus.succeeded
    assert done.attempts == 1
    assert await effects(runtime) == [("after-garbage", 1)]
    assert queue_folder(tmp_path, "corrupt") == sorted(GARBAGE)
    assert "Unrecoverable error" not in log.read_text()
