"""Scan tracked files for committed secrets: private keys, AWS keys, high-entropy tokens.

Exit 1 and list every finding (path:line, rule) unless the path or the exact value is allowed in
``.ci/secrets-allowlist`` (glob patterns of paths, or ``value:<literal>`` lines). Test fixtures and
the sandbox fakes carry public test values and are allowed by path there.
"""

from __future__ import annotations

import fnmatch
import math
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULES = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret access key": re.compile(
        r"(?i)aws_?secret_?access_?key['\"]?\s*[:=]\s*['\"]?([A-Za-z0-9/+]{40})\b"
    ),
    "Stripe live key": re.compile(r"\b(?:sk|rk)_live_[0-9A-Za-z]{16,}\b"),
    "Oja API key": re.compile(r"\boja_sk_[A-Za-z0-9_-]{30,}\b"),
}
# A quoted value assigned to a secret-looking name, long and random enough to be a real credential.
ASSIGNED = re.compile(
    r"(?i)(?:secret|token|password|passwd|api_?key|private_?key)[a-z_]*['\"]?\s*[:=]\s*"
    r"['\"]([A-Za-z0-9+/=_\-]{24,})['\"]"
)
MIN_ENTROPY = 4.0  # bits per character; hex digests sit near 4.0, random base64 near 5.5


def entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def allowlist() -> tuple[list[str], set[str]]:
    path = ROOT / ".ci" / "secrets-allowlist"
    globs, values = [], set()
    for raw in path.read_text().splitlines() if path.exists() else []:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("value:"):
            values.add(line.removeprefix("value:"))
        else:
            globs.append(line)
    return globs, values


def tracked_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    return [p for p in out.decode().split("\0") if p]


def scan(paths: list[str]) -> list[str]:
    globs, allowed_values = allowlist()
    findings = []
    for name in paths:
        if any(fnmatch.fnmatch(name, pattern) for pattern in globs):
            continue
        path = ROOT / name
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for rule, pattern in RULES.items():
                match = pattern.search(line)
                if match and match.group(0) not in allowed_values:
                    findings.append(f"{name}:{number}: {rule}")
            for match in ASSIGNED.finditer(line):
                value = match.group(1)
                if value not in allowed_values and entropy(value) >= MIN_ENTROPY:
                    findings.append(f"{name}:{number}: high-entropy value assigned to a secret")
    return findings


def main() -> int:
    paths = sys.argv[1:] or tracked_files()
    findings = scan(paths)
    for finding in findings:
        print(finding)
    print(f"secrets scan: {len(paths)} files, {len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
