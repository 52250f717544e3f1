"""Oja's app with one more route, ``POST /_test/publish``, that publishes a realtime event in its
request's unit of work as a feature's route would: for tests that run the API as real processes
(``uvicorn tests.realtime.publishing_app:create_app --factory``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI

from oja.core.dependencies import SessionDep
from oja.main import create_app as create_oja_app
from oja.realtime import publish


def create_app() -> FastAPI:
    app = create_oja_app()
    router = APIRouter()

    @router.post("/_test/publish")
    async def publish_route(body: dict[str, Any], db: SessionDep) -> dict[str, int]:
        row = await publish(db, body["event"], body["data"], body["topics"])
        return {"id": row.id}

    app.include_router(router)
    return app
