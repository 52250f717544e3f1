"""The app ``bench/realtime.py`` serves: Oja's, plus ``POST /_bench/publish``, which publishes a
realtime event in its request's unit of work as a feature's route would, and ``GET
/_bench/commits``: the wall-clock time each of those units of work committed (stamped by the first
after-commit callback, before the push), so the benchmark can time commit → WebSocket delivery."""

from __future__ import annotations

import sys

if __name__ == "__main__":  # `make bench` runs every file in bench/; this one is imported, not run.
    print("bench/realtime_fixture.py is the app bench/realtime.py serves; nothing to run")
    sys.exit(0)

import time
from typing import Any

from fastapi import APIRouter, FastAPI

from oja.core.db import after_commit
from oja.core.dependencies import SessionDep
from oja.main import create_app as create_oja_app
from oja.realtime import publish


def create_app() -> FastAPI:
    app = create_oja_app()
    router = APIRouter()
    committed: dict[int, float] = {}

    @router.post("/_bench/publish")
    async def publish_route(body: dict[str, Any], db: SessionDep) -> dict[str, int]:
        ids: list[int] = []

        async def stamp() -> None:
            committed[ids[0]] = time.time()

        after_commit(db, stamp)  # registered before publish's push: it runs first
        row = await publish(db, "bench.event", body.get("data", {}), body["topics"])
        ids.append(row.id)
        return {"id": row.id}

    @router.get("/_bench/commits")
    async def commits() -> dict[int, float]:
        return committed

    app.include_router(router)
    return app
