"""The outbox's hand-off: after a commit the caller does not wait for the broker, and nothing is lost.

A publisher with ``hand_off`` (the Celery adapter's :class:`PublishThread`) gets the after-commit
messages on its sending thread; the sweeper's and the admin's republish still wait for the broker's
answer; a message the thread never sent is published again by the sweeper.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update
from structlog.testing import capture_logs

from oja.core.clock import utcnow
from oja.core.config import Settings
from oja.core.db import own_transaction, unit_of_work
from oja.core.jobs import Job
from oja.core.jobs.outbox import Message, PublishThread
from oja.core.jobs.runner import execute
from oja.core.jobs.sweeper import sweep
from oja.core.runtime import Runtime
from tests.core import job_fixtures
from tests.core.job_fixtures import metadata, record_effect

TASK = "oja.job.tests.effect"


class HandingOff:
    """A publisher like the Celery adapter: an awaited publish, and a hand-off to a sending thread
    whose sends wait for :attr:`gate` (so a test can see that the caller did not wait)."""

    def __init__(self) -> None:
        self.awaited: list[Message] = []
        self.sent: list[Message] = []
        self.gate = threading.Event()
        self.refuse = False
        self.thread = PublishThread(self.send)

    async def __call__(self, task_name: str, job_id: uuid.UUID, countdown: float) -> None:
        self.awaited.append((task_name, job_id, countdown))

    def hand_off(self, task_name: str, job_id: uuid.UUID, countdown: float) -> None:
        self.thread.hand_off(task_name, job_id, countdown)

    def send(self, batch: list[Message]) -> None:
        assert self.gate.wait(10)
        if self.refuse:
            raise ConnectionError("broker down")
        self.sent += batch


@pytest.fixture
def publisher() -> HandingOff:
    return HandingOff()


@pytest.fixture
async def runtime(settings: Settings, publisher: HandingOff) -> AsyncIterator[Runtime]:
    runtime = Runtime.create(settings, registry=job_fixtures.registry(), publisher=publisher)
    async with runtime.database.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    yield runtime
    publisher.gate.set()
    assert publisher.thread.flush(10)
    async with runtime.database.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
    await runtime.close()


async def test_a_committed_job_is_handed_off_and_the_caller_does_not_wait_for_the_send(
    runtime: Runtime, publisher: HandingOff
) -> None:
    async with unit_of_work(runtime.database) as session:
        first = record_effect.enqueue(session, label="first")
        second = record_effect.enqueue(session, label="second")
    # The unit of work has returned while the sending thread is still held at the gate.
    assert publisher.sent == []
    assert publisher.awaited == []
    assert publisher.thread.flush(0.05) is False
    publisher.gate.set()
    assert publisher.thread.flush(10) is True
    assert publisher.sent == [(TASK, first.id, 0.0), (TASK, second.id, 0.0)]
    assert publisher.awaited == []
    assert await execute(str(first.id), runtime) == "succeeded"
    assert await execute(str(first.id), runtime) == "not_claimed"


async def test_a_rolled_back_job_is_not_handed_off(runtime: Runtime, publisher: HandingOff) -> None:
    async def request_that_fails() -> None:
        async with unit_of_work(runtime.database) as session:
            record_effect.enqueue(session, label="never")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await request_that_fails()
    publisher.gate.set()
    assert publisher.thread.flush(10) is True
    assert (publisher.sent, publisher.awaited) == ([], [])


async def test_a_send_that_fails_is_logged_and_the_sweeper_publishes_it_again_awaited(
    runtime: Runtime, publisher: HandingOff
) -> None:
    publisher.refuse = True
    publisher.gate.set()
    with capture_logs() as logs:
        async with unit_of_work(runtime.database) as session:
            lost = record_effect.enqueue(session, label="lost")
        assert publisher.thread.flush(10) is True
    assert [entry["event"] for entry in logs] == ["jobs.publish.failed"]
    assert logs[0]["job_id"] == str(lost.id)
    assert publisher.sent == []
    # Not due yet: the sweeper leaves a job published less than job_requeue_after ago.
    assert await sweep(runtime) == {"republished": 0, "failed": 0}
    long_ago = utcnow() - timedelta(minutes=10)
    async with own_transaction(runtime.database) as session:
        await session.execute(update(Job).where(Job.id == lost.id).values(published_at=long_ago))
    # The sweeper's publish is awaited (it counts what the broker took), never handed off.
    assert await sweep(runtime) == {"republished": 1, "failed": 0}
    assert publisher.awaited == [(TASK, lost.id, 0.0)]
    assert publisher.sent == []
    assert await execute(str(lost.id), runtime) == "succeeded"


def test_the_thread_sends_what_queued_up_in_one_batch_in_order_and_goes_on_after_a_failure() -> (
    None
):
    batches: list[list[str]] = []
    gate, sending = threading.Event(), threading.Event()

    def send(batch: list[Message]) -> None:
        sending.set()
        assert gate.wait(10)
        names = [task_name for task_name, _, _ in batch]
        if "bad" in names:
            raise ConnectionError("refused")
        batches.append(names)

    thread = PublishThread(send)
    thread.hand_off("a", uuid.uuid4(), 0.0)
    assert sending.wait(10)  # the thread took "a" alone and waits at the gate
    for name in ["b", "c"]:  # queued meanwhile: the next batch
        thread.hand_off(name, uuid.uuid4(), 0.0)
    gate.set()
    assert thread.flush(10) is True
    thread.hand_off("bad", uuid.uuid4(), 0.0)
    with capture_logs() as logs:
        assert thread.flush(10) is True
    assert [(entry["event"], entry["task"]) for entry in logs] == [("jobs.publish.failed", "bad")]
    thread.hand_off("d", uuid.uuid4(), 0.0)
    assert thread.flush(10) is True
    assert batches == [["a"], ["b", "c"], ["d"]]


def test_a_forked_child_starts_its_own_thread_and_forgets_the_parents_queue() -> None:
    sent: list[str] = []
    gate = threading.Event()
    parent = os.getpid()

    def send(batch: list[Message]) -> None:
        # Only the parent's sends wait: the child must not touch the gate, whose lock a fork may
        # have copied while the parent's thread held it.
        if os.getpid() == parent:
            assert gate.wait(10)
        sent.extend(task_name for task_name, _, _ in batch)

    thread = PublishThread(send)
    thread.hand_off("parent", uuid.uuid4(), 0.0)  # held at the gate, not sent when the fork comes
    pid = os.fork()
    if pid == 0:  # the child: Celery's prefork pool forks a worker the same way
        code = 1
        try:
            thread.hand_off("child", uuid.uuid4(), 0.0)
            if thread.flush(10) and sent == ["child"]:
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    gate.set()
    assert thread.flush(10) is True
    assert sent == ["parent"]
