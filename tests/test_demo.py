"""``oja demo`` end to end: the sandbox fakes here, Oja (uvicorn) and a worker with beat as real
processes on embedded defaults, and the demo walking every flow over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from oja.demo import MARKS
from oja.sandbox.runner import PORT_OFFSETS, Sandbox
from tests.processes import running
from tests.sandbox.test_runner import _free_port_block

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

KNOWN_FAILURES: dict[tuple[str, str], str] = {}
"""Steps that fail because of a bug outside the demo, each named in the hand-off report. The test
insists they still fail, so fixing one turns this test red until its entry is removed."""

ADMIN = ("demo-operator@example.com", "demo operator password 7")
PAYOUTS_IN_SECONDS = {
    "OJA_MARKETPLACE_SETTLEMENT_HOLD_DAYS": "0",
    "OJA_MARKETPLACE_PAYOUT_ACCOUNT_CHANGE_HOLD_HOURS": "0",
    "OJA_MARKETPLACE_SETTLEMENT_RELEASE_INTERVAL": "5",
    "OJA_MARKETPLACE_PAYOUT_INTERVAL": "5",
}
"""Money timings that let the demo see payouts: shares released at delivery, accounts usable at
once, the release and payout jobs every five seconds (production: days and hours)."""
EMBEDDED = ("DATABASE_URL", "BROKER_URL", "REDIS_URL", "STORAGE_URL", "CHROMA_URL", "ENV")


@contextmanager
def _process(argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> Iterator[None]:
    with running(argv, env, log, cwd=cwd):
        yield


def _wait_healthy(url: str, logs: list[Path], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs)
    pytest.fail(f"Oja did not answer /healthz within {timeout:g} s\n{tails}")


def _rows(output: str) -> dict[tuple[str, str], str]:
    """``(flow, step) -> mark`` from the printed table (polls' counts stripped from the name)."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("  ") if c.strip()]
        marks = [c for c in cells if c in MARKS.values()]
        if len(cells) >= 3 and marks and cells[0] != "flow":
            name = cells[1].split(" (")[0] if "polls)" in cells[1] else cells[1]
            rows[(cells[0], name)] = marks[0]
    return rows


def test_the_demo_walks_every_flow(tmp_path: Path) -> None:
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
            OJA_SWEEPER_INTERVAL="2",
            OJA_DEMO_EMAIL_INBOX=sandbox.url("email"),
            **PAYOUTS_IN_SECONDS,
        )
        migrated = subprocess.run(
            [sys.executable, "-m", "oja.cli", "migrate"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert migrated.returncode == 0, migrated.stderr
        operator = subprocess.run(
            [sys.executable, "-m", "oja.cli", "create-admin", "--email", ADMIN[0]]
            + ["--password", ADMIN[1]],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert operator.returncode == 0, operator.stdout + operator.stderr
        api = ["uvicorn", "oja.main:create_app", "--factory", "--host", "127.0.0.1"]
        stack.enter_context(_process([*api, "--port", str(port)], env, tmp_path, logs[0]))
        stack.enter_context(
            _process(["oja.cli", "worker", "--beat", "--concurrency", "2"], env, tmp_path, logs[1])
        )
        _wait_healthy(url, logs)
        demo = subprocess.run(
            [sys.executable, "-m", "oja.cli", "demo", "--base-url", url, "--timeout", "90"]
            + ["--admin-email", ADMIN[0], "--admin-password", ADMIN[1]],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=360,
            check=False,
        )
    report = demo.stdout + demo.stderr
    context = report + "".join(f"\n--- {log.name}\n{log.read_text()[-4000:]}" for log in logs)
    rows = _rows(demo.stdout)
    failed = {step for step, mark in rows.items() if mark == MARKS["failed"]}
    skipped = {step for step, mark in rows.items() if mark == MARKS["skipped"]}
    assert failed - KNOWN_FAILURES.keys() == set(), context
    fixed = KNOWN_FAILURES.keys() - failed
    assert not fixed, f"fixed, remove from KNOWN_FAILURES: {sorted(fixed)}\n{report}"
    assert skipped == set(), context  # every module is installed
    flows = {flow for flow, _ in rows}
    assert flows == {
        "identity",
        "otp",
        "google",
        "api keys",
        "files",
        "documents",
        "rag",
        "chat",
        "paystack",
        "stripe",
        "market",
    }, report
    assert demo.returncode == (1 if KNOWN_FAILURES else 0), context
    # The fakes saw the flows: a Google sign-in, a paid Paystack charge, a Stripe subscription.
    assert sandbox.google.last_authorization_request is not None
    assert ("charge.success", 200) in sandbox.paystack.deliveries
    assert [s for _, s in sandbox.stripe.deliveries] == [200, 200, 200]
    assert sum(c.status == 200 for c in sandbox.gemini.calls) == 5
    # The marketplace's returned wrap (₦15,000) was refunded at the Paystack fake, once.
    assert [r.amount for r in sandbox.paystack.refunds] == [1_500_000]
    # The second wrap was paid once at the Flutterwave fake; each store was paid out once at the
    # Paystack fake, its sales less the 10 % commission, less what its refunds still in flight
    # will take: Beads ₦7,650 for its necklace; Adire ₦13,500 — two wraps (₦27,000) less the
    # first wrap's refund, still ``processing`` at Paystack (the fake waits to be told), whose
    # store part (₦15,000 less the ₦1,500 commission it gives back) the payout holds back.
    paid = [c for c in sandbox.flutterwave.charges.values() if c.status == "successful"]
    assert [int(c.amount * 100) for c in paid] == [1_500_000]
    assert sorted(t.amount for t in sandbox.paystack.transfers.values()) == [765_000, 1_350_000]
    # The second buyer's notifications reached the email and SMS fakes.
    emails = [m for m in sandbox.smtp.messages if "tunde-" in m.to]
    texts = [m for m in sandbox.sms.messages if m.to.lstrip("+").startswith("234803")]
    assert (len(emails), len(texts)) == (3, 3), (emails, texts)  # confirmed, shipped, delivered


def test_serve_sandbox_points_the_api_and_its_worker_at_the_fakes(tmp_path: Path) -> None:
    port, base = _free_port_block(1), _free_port_block(len(PORT_OFFSETS))
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OJA_")}
    env.update(OJA_VAR_DIR=str(tmp_path / "var"), OJA_LOG_JSON="false")
    log = tmp_path / "serve.log"
    argv = ["oja.cli", "serve", "--sandbox", "--port", str(port), "--sandbox-port-base", str(base)]
    with _process(argv, env, tmp_path, log):
        _wait_healthy(url, [log])
        with httpx.Client(base_url=url, timeout=30) as http:
            start = http.get("/auth/google")  # the API process took the fakes' variables
            assert start.status_code == 302, start.text
            assert start.headers["location"].startswith(f"http://127.0.0.1:{base}/o/oauth2/")
            credentials = {"email": "serve@example.com", "password": "serve-Passw0rd-long"}
            assert http.post("/auth/signup", json=credentials).status_code == 201
            token = http.post("/auth/login", json=credentials).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            uploaded = http.post(
                "/documents/upload",
                headers=auth,
                files={"file": ("note.txt", b"Invoice 7 is due on 1 March.\n", "text/plain")},
            ).json()
            deadline = time.monotonic() + 90
            while True:  # the analysis runs in the worker child: it took the variables too
                analysed = http.post(f"/documents/{uploaded['document_id']}/analyze", headers=auth)
                if analysed.status_code != 202 or time.monotonic() > deadline:
                    break
            assert analysed.status_code == 200, (analysed.text, log.read_text()[-3000:])
            assert analysed.json()["analysis"]["provider"] == "openrouter"
    printed = log.read_text()
    assert f"export OJA_PUBLIC_URL={url}" in printed
    assert (
        f"export OJA_OPENROUTER_BASE_URL=http://127.0.0.1:{base + PORT_OFFSETS['openrouter']}"
        in printed
    )
