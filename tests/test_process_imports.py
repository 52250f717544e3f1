"""What a process start loads, kept cheap: the worker does not import the API, the admin, or the
services (and their numpy, jinja2, PIL) of jobs it has not run; the admin finds each view class's
actions once per process and mounts exactly what sqladmin itself would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqladmin import Admin

from oja.admin.site import mount_admin
from oja.core.config import Settings
from oja.core.runtime import Runtime

REPO = Path(__file__).resolve().parents[1]

NOT_IN_THE_WORKER = [
    # the API's composition root and what only it runs
    "oja.main",
    "oja.api",
    "oja.admin",
    "sqladmin",
    "uvicorn",
    # services a job imports when it runs, with the libraries behind them
    "oja.rag.service",
    "numpy",
    "oja.notifications.delivery",
    "jinja2",
    "oja.marketplace.catalog.images",
    "PIL",
    "oja.marketplace.recommendations.service",
    "oja.billing.metrics",
    "oja.marketplace.reports.rollup",
]


def test_the_worker_imports_no_api_admin_or_job_service_it_has_not_run(tmp_path: Path) -> None:
    probe = (
        "import json, sys\n"
        "import oja.worker\n"
        f"print(json.dumps([m for m in {NOT_IN_THE_WORKER!r} if m in sys.modules]))\n"
    )
    env = {
        **os.environ,
        "OJA_ENV": "test",
        "OJA_SECRET_KEY": "s" * 40,
        "OJA_VAR_DIR": str(tmp_path),
        "OJA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/oja.db",
        "OJA_BROKER_URL": "filesystem://",
        "OJA_WORKER_IMPORTS": "[]",
    }
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_job_kinds_named_where_their_service_is_not_imported_match_the_service() -> None:
    from oja.rag import jobs as rag_jobs
    from oja.rag import service as rag_service
    from oja.realtime import jobs as realtime_jobs
    from oja.realtime import service as realtime_service

    assert realtime_jobs.drain.kind == realtime_service.DRAIN_KIND
    assert (f"children-{rag_service.CHILD_WINDOW}-{rag_service.CHILD_STRIDE}") == rag_jobs.CHILDREN


def _mounted(admin: Admin) -> dict[str, Any]:
    """Every route of an admin and every view's actions: what add_view derives from a view class."""
    return {
        "routes": [
            (getattr(r, "path", None), getattr(r, "name", None)) for r in admin.admin.routes
        ],
        "views": [
            (
                type(view).__name__,
                getattr(view, "_custom_actions_in_list", None),
                getattr(view, "_custom_actions_in_detail", None),
                getattr(view, "_custom_actions_confirmation", None),
            )
            for view in admin.views
        ],
    }


async def test_each_app_mounts_the_same_admin_as_sqladmin_does(settings: Settings) -> None:
    from oja.admin.views import VIEWS

    runtime = Runtime.create(settings)
    try:
        plain = Admin(FastAPI(), engine=runtime.database.engine, base_url="/admin")
        for view in VIEWS:
            plain.add_view(view)
        first = mount_admin(FastAPI(), runtime)
        second = mount_admin(FastAPI(), runtime)  # from the per-class cache
    finally:
        await runtime.close()
    expected = _mounted(plain)
    assert len(expected["routes"]) > len(VIEWS)
    assert any(actions for _, actions, _, _ in expected["views"])
    assert _mounted(first) == expected
    assert _mounted(second) == expected
