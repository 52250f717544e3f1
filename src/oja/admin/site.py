"""Mounting the admin on the application."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from sqladmin import Admin

from oja.admin.auth import AdminAuth
from oja.admin.views import VIEWS
from oja.core.runtime import Runtime
from oja.identity.config import IdentitySettings

BASE_URL = "/admin"
TEMPLATES = Path(__file__).parent / "templates"


def mount_admin(app: FastAPI, runtime: Runtime) -> Admin:
    admin = Admin(
        app,
        engine=runtime.database.engine,
        base_url=BASE_URL,
        title="Oja admin",
        templates_dir=str(TEMPLATES),
        authentication_backend=AdminAuth(
            runtime, runtime.settings.section(IdentitySettings), base_url=BASE_URL
        ),
    )
    admin.admin.state.runtime = runtime  # what the views' actions run against
    for view in VIEWS:
        admin.add_view(view)
    return admin
