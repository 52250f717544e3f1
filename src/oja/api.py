"""Every feature module's routers, in one place, so ``create_app`` stays short."""

from __future__ import annotations

from fastapi import FastAPI

from oja.core.health import router as health_router


def include_routers(app: FastAPI) -> None:
    app.include_router(health_router)
