"""Every feature module's routers, in one place, so ``create_app`` stays short."""

from __future__ import annotations

from fastapi import FastAPI

from oja.billing.endpoints import routers as billing_routers
from oja.chat.endpoints import router as chat_router
from oja.core.config import Settings
from oja.core.health import router as health_router
from oja.core.storage_endpoints import router as storage_router
from oja.documents.config import upload_body_limit as document_upload_body_limit
from oja.documents.endpoints import router as documents_router
from oja.files.config import upload_body_limit
from oja.files.endpoints import router as files_router
from oja.identity.api_keys.endpoints import router as api_keys_router
from oja.identity.endpoints import admin_router as identity_admin_router
from oja.identity.endpoints import auth_router as identity_auth_router
from oja.identity.endpoints import examples_router as identity_examples_router
from oja.identity.endpoints import user_router as identity_user_router
from oja.marketplace.catalog.config import IMAGE_UPLOAD_PATH, image_upload_body_limit
from oja.marketplace.endpoints import routers as marketplace_routers
from oja.marketplace.imports.config import import_body_limit
from oja.notifications.endpoints import routers as notification_routers
from oja.rag.endpoints import router as rag_router
from oja.realtime.endpoints import router as realtime_router


def large_body_paths(settings: Settings) -> dict[str, int]:
    """Routes that stream their bodies and enforce their own, larger limit while reading (a
    ``{name}`` segment matches any one path segment)."""
    return {
        "/upload": upload_body_limit(settings),
        "/documents/upload": document_upload_body_limit(settings),
        IMAGE_UPLOAD_PATH: image_upload_body_limit(settings),
        "/vendors/me/imports": import_body_limit(settings),
    }


def include_routers(app: FastAPI) -> None:
    app.include_router(health_router)
    app.include_router(storage_router)
    app.include_router(identity_auth_router)
    app.include_router(identity_user_router)
    app.include_router(identity_admin_router)
    app.include_router(api_keys_router)
    app.include_router(identity_examples_router)
    app.include_router(files_router)
    app.include_router(documents_router)
    app.include_router(rag_router)
    for billing_router in billing_routers:
        app.include_router(billing_router)
    app.include_router(chat_router)
    for marketplace_router in marketplace_routers:
        app.include_router(marketplace_router)
    app.include_router(realtime_router)
    for notification_router in notification_routers:
        app.include_router(notification_router)
