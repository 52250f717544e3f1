"""The API's composition root: ``create_app()`` wires the runtime and its job outbox, middleware,
error handlers, routers and lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

import oja
from oja.admin import mount_admin
from oja.api import include_routers, large_body_paths
from oja.core.config import Settings, get_settings
from oja.core.errors import install_error_handlers
from oja.core.jobs.celery_app import CeleryPublisher, create_celery
from oja.core.jobs.outbox import Publisher
from oja.core.logging import configure_logging
from oja.core.middleware import RequestContextMiddleware
from oja.core.openapi import install_openapi
from oja.core.routing import index_static_routes
from oja.core.runtime import Runtime, RuntimeMiddleware
from oja.job_modules import job_registry
from oja.marketplace.recommendations.recorder import flush_views
from oja.realtime.hub import close_hub

DESCRIPTION = """
Oja is one backend for identity, files, documents, retrieval, chat, billing and a multi-vendor
marketplace. Every error has the shape `{"error": {"code", "message", "details"}}`.
"""


_frozen = False


def _freeze_once() -> None:
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


def create_app(settings: Settings | None = None, *, publisher: Publisher | None = None) -> FastAPI:
    """The app; jobs it enqueues are published through Celery unless ``publisher`` says otherwise
    (tests run them in-process)."""
    if settings is None:
        settings = get_settings()
    else:
        settings.validate()
    configure_logging(settings.app.log_level, json=settings.app.log_json)
    if publisher is None:
        publisher = CeleryPublisher(create_celery(settings))
    runtime = Runtime.create(settings, registry=job_registry(), publisher=publisher)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Everything loaded by now (modules, routes, models, settings) lives as long as the
        # process: frozen, a full collection no longer walks it. Unfrozen, those collections
        # were the 4x gap between a sales report's p50 and p95 (bench/reports.py). Once per
        # process: a process that builds many apps (the tests) would otherwise pay a full
        # collection per app and keep every earlier app's cycles frozen, never collected.
        route_index.build()  # before the freeze: the index lives as long as the process
        _freeze_once()
        yield
        await flush_views(runtime)
        await close_hub(runtime)
        await runtime.close()

    app = FastAPI(
        title="Oja",
        version=oja.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        debug=False,
    )
    app.state.runtime = runtime
    app.state.storage = runtime.storage
    install_error_handlers(app)
    if settings.app.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.app.cors_origins,
            allow_credentials=settings.app.cors_allow_credentials,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.app.max_body_bytes,
        large_body_paths=large_body_paths(settings),
    )
    app.add_middleware(RuntimeMiddleware, runtime=runtime)  # added last: outermost
    include_routers(app)
    install_openapi(app)
    mount_admin(app, runtime)
    route_index = index_static_routes(app.router)
    return app
