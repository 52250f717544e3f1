"""Operations endpoints: the index, liveness, readiness, Prometheus metrics. All public."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select, text

import oja
from oja.core.clock import utcnow
from oja.core.db import read_only
from oja.core.jobs.heartbeat import check_worker, last_beat
from oja.core.jobs.models import Job, JobStatus
from oja.core.metrics import JOB_DURATION, JOBS, QUEUE_DEPTH, REGISTRY, WORKER_HEARTBEAT_AGE
from oja.core.runtime import Check, Runtime

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: str


class IndexLinks(BaseModel):
    docs: str
    openapi: str
    health: str
    readyz: str


class Index(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Oja",
                    "version": oja.__version__,
                    "links": {
                        "docs": "/docs",
                        "openapi": "/openapi.json",
                        "health": "/health",
                        "readyz": "/readyz",
                    },
                }
            ]
        }
    )

    name: str
    version: str
    links: IndexLinks
    """Paths relative to this server."""


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]
    down: list[str]


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@router.get("/", response_model=Index, summary="What this server is, and where to start")
async def index(request: Request) -> Index:
    app = request.app
    return Index(
        name=app.title,
        version=app.version,
        links=IndexLinks(
            docs=app.docs_url or "/docs",
            openapi=app.openapi_url or "/openapi.json",
            health="/health",
            readyz="/readyz",
        ),
    )


# Both spellings: Kubernetes convention (`/healthz`) and what seed clients call (`/health`).
@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
@router.get("/health", response_model=Health, summary="Liveness (alias of `/healthz`)")
async def healthz() -> Health:
    return Health(status="ok")


async def _check_database(runtime: Runtime) -> None:
    async with runtime.database.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def _check_broker_sync(url: str, transport: str | None, options: dict[str, Any]) -> None:
    from kombu import Connection

    with Connection(url, transport=transport, transport_options=options, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


async def _check_broker(runtime: Runtime) -> None:
    from oja.core.jobs.celery_app import broker_options, broker_transport

    settings = runtime.settings
    await asyncio.to_thread(
        _check_broker_sync,
        settings.broker_url,
        broker_transport(settings),
        broker_options(settings),
    )


async def _check_storage(runtime: Runtime) -> None:
    await runtime.storage.check()


async def run_checks(runtime: Runtime) -> dict[str, str]:
    checks: dict[str, Check] = {
        "database": _check_database,
        "broker": _check_broker,
        "storage": _check_storage,
    }
    checks.update(runtime.extra_checks())
    if runtime.settings.queue.worker_heartbeat_required:
        checks["worker"] = check_worker

    async def one(name: str) -> tuple[str, str]:
        try:
            await asyncio.wait_for(checks[name](runtime), timeout=3)
        except Exception as exc:
            return name, f"down: {type(exc).__name__}"
        return name, "ok"

    results = await asyncio.gather(*(one(name) for name in checks))
    return dict(results)


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness: database, broker, Redis and storage answer (and a worker beats, when required)",
    responses={503: {"model": Readiness, "description": "Something Oja needs is down"}},
)
async def readyz(request: Request) -> JSONResponse:
    results = await run_checks(_runtime(request))
    down = sorted(name for name, state in results.items() if state != "ok")
    body = Readiness(status="down" if down else "ok", checks=results, down=down)
    return JSONResponse(body.model_dump(), status_code=503 if down else 200)


async def _refresh_job_metrics(runtime: Runtime) -> None:
    async with read_only(runtime.database) as session:
        rows = (
            await session.execute(
                select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)
            )
        ).all()
        since = utcnow() - timedelta(hours=1)
        finished = (
            await session.execute(
                select(Job.kind, Job.started_at, Job.finished_at).where(
                    Job.status == JobStatus.succeeded, Job.finished_at >= since
                )
            )
        ).all()
    JOBS.clear()
    depth = 0
    for kind, status, count in rows:
        JOBS.labels(kind, status).set(count)
        if status == JobStatus.queued:
            depth += count
    QUEUE_DEPTH.set(depth)
    durations: dict[str, list[float]] = {}
    for kind, started, ended in finished:
        if started and ended:
            durations.setdefault(kind, []).append((ended - started).total_seconds())
    JOB_DURATION.clear()
    for kind, values in durations.items():
        JOB_DURATION.labels(kind).set(sum(values) / len(values))


async def _refresh_worker_metrics(runtime: Runtime) -> None:
    beat = await last_beat(runtime)
    WORKER_HEARTBEAT_AGE.set(float("nan") if beat is None else max(0.0, time.time() - beat))


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    with contextlib.suppress(Exception):  # metrics must answer even when the database does not
        await _refresh_job_metrics(_runtime(request))
    await _refresh_worker_metrics(_runtime(request))
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
