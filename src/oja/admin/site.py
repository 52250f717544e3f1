"""Mounting the admin on the application."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from types import MethodType

from fastapi import FastAPI
from sqladmin import Admin, BaseView, ModelView

from oja.admin.auth import AdminAuth
from oja.admin.views import VIEWS
from oja.core.runtime import Runtime
from oja.identity.config import IdentitySettings

BASE_URL = "/admin"
TEMPLATES = Path(__file__).parent / "templates"

_decorated: dict[type[BaseView | ModelView], list[str]] = {}
"""Per view class, its methods marked ``@action`` or ``@expose``, in the order sqladmin adds them."""


class _Admin(Admin):
    """sqladmin's ``Admin``, finding each view class's decorated methods once per process.

    sqladmin walks every member of every view instance (``inspect.getmembers``, then sorts them by
    source line) for each ``add_view``: two thirds of ``create_app``, and every test builds an app.
    The decorated methods are fixed by the class, so the walk is done once per class and each app
    binds the same names, in the same order, to its own view instance.
    """

    @staticmethod
    def _find_decorated_funcs(
        view: type[BaseView | ModelView],
        view_instance: BaseView | ModelView,
        handle_fn: Callable[[MethodType, type[BaseView | ModelView], BaseView | ModelView], None],
    ) -> None:
        names = _decorated.get(view)
        if names is None:
            members = inspect.getmembers(view_instance, predicate=inspect.ismethod)
            members.sort(key=lambda m: inspect.unwrap(m[1]).__code__.co_firstlineno, reverse=True)
            names = [
                name
                for name, method in members
                if hasattr(method, "_action") or hasattr(method, "_exposed")
            ]
            _decorated[view] = names
        for name in names:
            handle_fn(getattr(view_instance, name), view, view_instance)


def mount_admin(app: FastAPI, runtime: Runtime) -> Admin:
    admin = _Admin(
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
