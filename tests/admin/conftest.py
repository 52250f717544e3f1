"""Admin test helpers: an admin and a buyer, a signed-in admin client, jobs and keys to act on."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from oja.core.clock import utcnow
from oja.core.db import unit_of_work
from oja.core.jobs import Job, JobContext, JobStatus, job
from oja.identity.api_keys.models import ApiKey
from tests.conftest import Jobs
from tests.identity.conftest import PASSWORD, make_admin, signup

ADMIN_EMAIL = "operator@example.com"
BUYER_EMAIL = "buyer@example.com"


@job("tests.admin.noop", max_attempts=3)
async def noop(ctx: JobContext, *, label: str) -> None:
    """A kind the retry can publish; no worker runs it in these tests."""


@pytest.fixture
async def admin_user(app: Any, client: httpx.AsyncClient) -> dict[str, Any]:
    return await make_admin(app, ADMIN_EMAIL)


@pytest.fixture
async def buyer(client: httpx.AsyncClient) -> dict[str, Any]:
    return await signup(client, email=BUYER_EMAIL)


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    return await client.post("/admin/login", data={"email": email, "password": password})


@pytest.fixture
async def admin_client(client: httpx.AsyncClient, admin_user: dict[str, Any]) -> httpx.AsyncClient:
    response = await sign_in(client, ADMIN_EMAIL)
    assert response.status_code == 302, response.text
    return client


@pytest.fixture
def publications(app: Any, jobs: Jobs) -> list[tuple[str, uuid.UUID, float]]:
    """Every job message published during the test, instead of sending it to a broker; the app
    knows the ``tests.admin.noop`` kind."""
    sent: list[tuple[str, uuid.UUID, float]] = []

    async def capture(task_name: str, job_id: uuid.UUID, countdown: float) -> None:
        sent.append((task_name, job_id, countdown))

    app.state.runtime.outbox.registry.add(noop)
    jobs.forward = capture
    return sent


async def add_job(app: Any, *, status: JobStatus, attempts: int = 3, **values: Any) -> uuid.UUID:
    now = utcnow()
    fields: dict[str, Any] = {
        "kind": "tests.admin.noop",
        "payload": {"label": "x"},
        "status": status,
        "attempts": attempts,
        "max_attempts": 3,
        "progress": 40,
        "last_error": "RuntimeError: the disk is full" if status == JobStatus.failed else None,
        "created_at": now - timedelta(minutes=5),
        "updated_at": now,
        "finished_at": now if status in (JobStatus.failed, JobStatus.succeeded) else None,
    }
    row = Job(**{**fields, **values})
    async with unit_of_work(app.state.runtime.database) as db:
        db.add(row)
    return row.id


async def get_job(app: Any, job_id: uuid.UUID) -> Job:
    async with app.state.runtime.database.sessionmaker() as db:
        row = await db.get(Job, job_id)
        assert row is not None
        return row


async def add_api_key(app: Any, user_id: str, *, name: str, key_hash: str) -> uuid.UUID:
    row = ApiKey(
        user_id=uuid.UUID(user_id),
        name=name,
        prefix="oja_sk_abcd",
        key_hash=key_hash,
        scopes=["files:read"],
    )
    async with unit_of_work(app.state.runtime.database) as db:
        db.add(row)
    return row.id


async def get_api_key(app: Any, key_id: uuid.UUID) -> ApiKey:
    async with app.state.runtime.database.sessionmaker() as db:
        row = (await db.execute(select(ApiKey).where(ApiKey.id == key_id))).scalar_one()
        return row
