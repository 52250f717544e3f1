"""The Postman collection (seed 001 deliverable): generated from the OpenAPI document, and its core
flow run by newman against Oja served by uvicorn on 127.0.0.1 (embedded defaults, a temp var dir)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_SECRET, make_settings

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
NEWMAN_DIR = REPO / "var" / "newman"


def load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("oja_postman", REPO / "scripts" / "postman.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def unavailable(reason: str) -> None:
    if os.environ.get("OJA_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(f"newman is required (OJA_TEST_REQUIRE_SERVICES=1): {reason}")
    pytest.skip(reason)


def newman() -> Path:
    """newman 6, installed once under var/newman with npm."""
    binary = NEWMAN_DIR / "node_modules" / ".bin" / "newman"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        unavailable("node/npm are not installed")
    assert npm is not None
    try:
        done = subprocess.run(
            [npm, "install", "newman@6", "--prefix", str(NEWMAN_DIR), "--no-audit", "--no-fund"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except subprocess.TimeoutExpired:
        unavailable("npm install newman@6 timed out (is the npm registry reachable?)")
    if done.returncode != 0 or not binary.exists():
        unavailable(
            f"npm install newman@6 failed (is the npm registry reachable?): {done.stderr[-500:]}"
        )
    return binary


@pytest.fixture
async def document(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """The OpenAPI document (no database needed, so one backend is enough)."""
    from oja.main import create_app

    app = create_app(make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}"))
    yield app.openapi()
    await app.state.runtime.close()


def test_the_collection_has_a_folder_per_tag_and_bearer_auth(document: dict[str, Any]) -> None:
    collection = load_generator().build(document)
    assert collection["info"]["schema"].endswith("/v2.1.0/collection.json")
    assert collection["auth"]["bearer"][0]["value"] == "{{token}}"
    names = [folder["name"] for folder in collection["item"]]
    tags = {op["tags"][0] for ops in document["paths"].values() for op in ops.values()}
    assert names[:2] == ["Core flow (seed 001)", "Marketplace (seed 003)"]
    assert set(names[2:]) == tags
    requests = {
        (item["request"]["method"], item["request"]["url"]["raw"]): item
        for folder in collection["item"][2:]
        for item in folder["item"]
    }
    assert len(requests) == sum(len(ops) for ops in document["paths"].values())
    signup = requests[("POST", "{{baseUrl}}/auth/signup")]
    assert signup["request"]["auth"] == {"type": "noauth"}
    assert json.loads(signup["request"]["body"]["raw"])["email"] == "{{email}}"
    assert "auth" not in requests[("GET", "{{baseUrl}}/chatroom")]["request"]  # inherits Bearer
    for login in ("/auth/login", "/auth/verify-otp"):
        script = "\n".join(requests[("POST", "{{baseUrl}}" + login)]["event"][0]["script"]["exec"])
        assert "pm.collectionVariables.set('token', body.access_token)" in script
    room = requests[("POST", "{{baseUrl}}/chatroom")]
    assert json.loads(room["request"]["body"]["raw"]) == {"title": "Trip to Lagos"}
    assert "set('chatroom_id'" in "\n".join(room["event"][0]["script"]["exec"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_newman_runs_the_core_flow_against_a_served_oja(
    tmp_path: Path, document: dict[str, Any]
) -> None:
    binary = newman()
    collection = tmp_path / "oja.postman_collection.json"
    collection.write_text(json.dumps(load_generator().build(document)))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OJA_")}
    env |= {
        "OJA_VAR_DIR": str(tmp_path / "var"),
        "OJA_SECRET_KEY": TEST_SECRET,
        "OJA_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO),
    }
    log = tmp_path / "oja.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "oja.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                assert server.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, "Oja did not start"
                time.sleep(0.2)
        run = subprocess.run(
            [
                str(binary),
                "run",
                str(collection),
                "--folder",
                "Core flow (seed 001)",
                "--env-var",
                f"baseUrl=http://127.0.0.1:{port}",
                "--reporters",
                "cli",
                "--color",
                "off",
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:] + log.read_text()[-3000:]
    assert "POST /chatroom/{chatroom_id}/message succeeds" in run.stdout
