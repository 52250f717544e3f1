"""The outbox: nothing pushed for a rolled-back change, nothing lost to a crash, history pruned."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from oja.core.clock import utcnow
from oja.core.db import read_only, unit_of_work
from oja.core.jobs.models import Job
from oja.core.jobs.periodic import enqueue_periodic
from oja.core.runtime import running
from oja.realtime import publish
from oja.realtime import service as realtime_service
from tests.conftest import Jobs, use_settings
from tests.marketplace.conftest import count, rows
from tests.realtime.conftest import Served, person, publish_event, receive


class Refused(Exception):
    pass


async def publish_then_fail(app: Any, topics: list[str]) -> None:
    """A change that publishes, then fails before its unit of work commits."""
    with running(app.state.runtime):
        async with unit_of_work(app.state.runtime.database) as session:
            await publish(session, "order.updated", {"n": 1}, topics)
            raise Refused


async def test_a_rolled_back_publish_pushes_nothing(served: Served, jobs: Jobs) -> None:
    ada = await person(served.client)
    async with await served.socket_of(ada) as ws:
        with pytest.raises(Refused):
            await publish_then_fail(served.app, [f"user:{ada.id}"])
        assert await count(served.app, "realtime_event") == 0
        assert await count(served.app, "realtime_event_topic") == 0
        assert jobs.published == []  # not even the drain job
        # The socket's first message is the next committed event: nothing came before it.
        event = await publish_event(served.app, "order.updated", {"n": 2}, [f"user:{ada.id}"])
        assert (await receive(ws))["id"] == event.id


async def test_a_publishing_unit_of_work_enqueues_no_job(served: Served, jobs: Jobs) -> None:
    ada = await person(served.client)
    with running(served.app.state.runtime):
        async with unit_of_work(served.app.state.runtime.database) as session:
            for n in range(3):
                await publish(session, "order.updated", {"n": n}, [f"user:{ada.id}", "order:o1"])
    # Its after-commit push marked the rows: no drain needed (the periodic one stays).
    assert await count(served.app, "job") == 0
    assert jobs.published == []
    assert await count(served.app, "realtime_event", "pushed_at IS NOT NULL") == 3
    assert await count(served.app, "realtime_event_topic") == 6


async def test_a_failed_push_enqueues_one_delayed_drain(
    served: Served, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Down:
        async def push(self, messages: list[Any]) -> None:
            raise ConnectionError("redis is down")

    monkeypatch.setattr(realtime_service, "hub_for", lambda runtime: Down())
    ada = await person(served.client)
    with running(served.app.state.runtime):
        async with unit_of_work(served.app.state.runtime.database) as session:
            for n in range(3):
                await publish(session, "order.updated", {"n": n}, [f"user:{ada.id}"])
    async with read_only(served.app.state.runtime.database) as session:
        drains = (await session.scalars(select(Job))).all()
    assert [job.kind for job in drains] == ["realtime.drain"]
    # Due once the rows are OJA_REALTIME_DRAIN_AFTER (5 s) old, the age the drain takes.
    assert drains[0].run_after - drains[0].created_at == timedelta(seconds=6)
    assert await count(served.app, "realtime_event", "pushed_at IS NULL") == 3


async def test_a_push_lost_to_a_crash_is_delivered_by_the_drain(served: Served, jobs: Jobs) -> None:
    ada = await person(served.client)
    runtime = served.app.state.runtime
    async with await served.socket_of(ada) as ws:
        with running(runtime):
            async with unit_of_work(runtime.database) as session:
                lost = await publish(session, "order.updated", {"n": 1}, [f"user:{ada.id}"])
                # The process dies right after its commit: no after-commit work happens.
                session.info.pop("oja.after_commit")
        assert await count(served.app, "realtime_event", "pushed_at IS NULL") == 1
        use_settings(served.app, realtime_drain_after=0)
        assert await enqueue_periodic(runtime, "realtime.drain")
        assert await jobs.run_kinds(served.app) == [("realtime.drain", "succeeded")]
        message = await receive(ws)
        assert (message["id"], message["data"]) == (lost.id, {"n": 1})
        assert await count(served.app, "realtime_event", "pushed_at IS NULL") == 0
        # Drained once: a second drain pushes nothing, and the socket's next message is new.
        async with unit_of_work(runtime.database) as session:
            runtime.outbox.registry.get("realtime.drain").enqueue(session)
        assert await jobs.run(served.app) == ["succeeded"]
        assert await drain_results(served.app) == [{"pushed": 1}, {"pushed": 0}]
        event = await publish_event(served.app, "order.updated", {"n": 2}, [f"user:{ada.id}"])
        assert (await receive(ws))["id"] == event.id


async def test_the_drain_leaves_events_younger_than_the_grace_to_their_own_push(
    served: Served, jobs: Jobs
) -> None:
    runtime = served.app.state.runtime
    with running(runtime):
        async with unit_of_work(runtime.database) as session:
            await publish(session, "order.updated", {}, ["user:u1"])
            session.info.pop("oja.after_commit")
    assert await enqueue_periodic(runtime, "realtime.drain")  # default grace: 5 s
    assert await jobs.run(served.app) == ["succeeded"]
    assert await count(served.app, "realtime_event", "pushed_at IS NULL") == 1


async def test_prune_deletes_old_events_and_expired_tickets_only(
    served: Served, jobs: Jobs
) -> None:
    ada = await person(served.client)
    await served.ticket(ada)
    await served.ticket(ada)
    old = await publish_event(served.app, "order.updated", {}, [f"user:{ada.id}", "order:o"])
    kept = await publish_event(served.app, "order.updated", {}, [f"user:{ada.id}"])
    async with served.app.state.runtime.database.engine.begin() as conn:
        past = utcnow() - timedelta(hours=25)
        await conn.execute(
            text("UPDATE realtime_event SET created_at = :past WHERE id = :id"),
            {"past": past, "id": old.id},
        )
        await conn.execute(
            text(
                "UPDATE realtime_ticket SET expires_at = :past WHERE id = "
                "(SELECT id FROM realtime_ticket ORDER BY created_at LIMIT 1)"
            ),
            {"past": past},
        )
    jobs.published.clear()
    assert await enqueue_periodic(served.app.state.runtime, "realtime.prune")
    assert await jobs.run(served.app) == ["succeeded"]
    assert [row.id for row in await rows(served.app, "SELECT id FROM realtime_event")] == [kept.id]
    assert await count(served.app, "realtime_event_topic") == 1
    assert await count(served.app, "realtime_ticket") == 1


async def drain_results(app: Any) -> list[Any]:
    """What each finished ``realtime.drain`` job returned, oldest first."""
    found = await rows(
        app,
        "SELECT result FROM job WHERE kind = 'realtime.drain' AND status = 'succeeded' "
        "ORDER BY updated_at",
    )
    return [json.loads(row.result) if isinstance(row.result, str) else row.result for row in found]
