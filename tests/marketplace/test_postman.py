"""The Postman collection's "Marketplace (seed 003)" folder, run by newman against Oja served by
uvicorn with a worker and beat, the sandbox's fakes in this process (the payment page of the
Paystack fake sends the webhook), on embedded defaults in a temp var dir."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest

from oja.sandbox.runner import Sandbox
from tests.chat.test_postman import load_generator, newman
from tests.conftest import make_settings
from tests.sandbox.test_runner import _free_port_block
from tests.test_demo import EMBEDDED, _process, _wait_healthy

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

ADMIN_EMAIL = "postman-admin@example.com"
ADMIN_PASSWORD = "postman admin password 7"  # noqa: S105 - a test account's


def collection(tmp_path: Path) -> Path:
    from oja.main import create_app

    app = create_app(make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}"))
    try:
        document = app.openapi()
    finally:
        asyncio.run(app.state.runtime.close())
    path = tmp_path / "oja.postman_collection.json"
    path.write_text(json.dumps(load_generator().build(document)))
    return path


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "oja.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_newman_runs_the_marketplace_flow_against_a_served_oja(tmp_path: Path) -> None:
    binary = newman()
    flows = collection(tmp_path)
    port = _free_port_block(1)
    url = f"http://127.0.0.1:{port}"
    logs = [tmp_path / "api.log", tmp_path / "worker.log"]
    with ExitStack() as stack:
        sandbox = stack.enter_context(Sandbox(oja_url=url, port_base=None))
        env = {k: v for k, v in os.environ.items() if k not in {f"OJA_{n}" for n in EMBEDDED}}
        env = sandbox.environment(env)
        env.update(
            OJA_VAR_DIR=str(tmp_path / "var"),
            OJA_LOG_JSON="false",
            OJA_BROKER_POLLING_INTERVAL="0.05",
        )
        _cli(["migrate"], env, tmp_path)
        _cli(["create-admin", "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD], env, tmp_path)
        api = ["uvicorn", "oja.main:create_app", "--factory", "--host", "127.0.0.1"]
        stack.enter_context(_process([*api, "--port", str(port)], env, tmp_path, logs[0]))
        stack.enter_context(
            _process(["oja.cli", "worker", "--beat", "--concurrency", "2"], env, tmp_path, logs[1])
        )
        _wait_healthy(url, logs)
        run = subprocess.run(
            [
                str(binary),
                "run",
                str(flows),
                "--folder",
                "Marketplace (seed 003)",
                "--env-var",
                f"baseUrl={url}",
                "--env-var",
                f"adminEmail={ADMIN_EMAIL}",
                "--env-var",
                f"adminPassword={ADMIN_PASSWORD}",
                "--reporters",
                "cli",
                "--color",
                "off",
            ],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    context = run.stdout[-8000:] + run.stderr[-2000:]
    context += "".join(f"\n--- {log.name}\n{log.read_text()[-3000:]}" for log in logs)
    assert run.returncode == 0, context
    for step in (
        "admin approves the store: 200",
        "buyer checks out: 201",
        "the order group is paid: 200",
        "vendor marks it delivered: 200",
        "buyer reviews the product: 201",
    ):
        assert step in run.stdout, context
