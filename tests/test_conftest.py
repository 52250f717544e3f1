"""The test session's own guard: a test that leaves a process running fails the run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.processes import REPO, alive

LEAKY = """
import subprocess


def test_forgets_its_process():
    subprocess.Popen(["sleep", "300"])
"""


def test_a_session_whose_test_leaves_a_process_running_fails_and_names_it(tmp_path: Path) -> None:
    (tmp_path / "test_leaky.py").write_text(LEAKY)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-q"]
        + ["--rootdir", str(tmp_path), "-c", "/dev/null", str(tmp_path / "test_leaky.py")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 passed" in run.stdout
    assert "processes left running by the tests (now killed):" in run.stdout
    [pid] = [int(p) for p in re.findall(r"^  (\d+) sleep 300$", run.stdout, re.M)]
    assert not alive(pid)
