"""``oja create-admin``: creates an admin, or promotes an existing account, on the configured DB."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from oja.cli import app as cli
from oja.core.db import Database
from oja.identity.models import User, UserRole


async def _roles(url: str) -> dict[str, list[str]]:
    database = Database(url)
    try:
        async with database.engine.connect() as conn:
            rows = await conn.execute(
                select(User.email, UserRole.role).join(UserRole, UserRole.user_id == User.id)
            )
            found: dict[str, list[str]] = {}
            for email, role in rows:
                found.setdefault(email, []).append(role)
            return {k: sorted(v) for k, v in found.items()}
    finally:
        await database.dispose()


@pytest.fixture
def database(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = tmp_path / "cli.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite+aiosqlite:///{path}"
    monkeypatch.setenv("OJA_DATABASE_URL", url)
    monkeypatch.setenv("OJA_VAR_DIR", str(tmp_path / "var"))
    return url


def test_create_admin_then_promote_idempotently(database: str) -> None:
    runner = CliRunner()
    created = runner.invoke(
        cli, ["create-admin", "--email", "Root@Example.com", "--password", "correct horse battery"]
    )
    assert created.exit_code == 0, created.output
    assert created.stdout.splitlines()[-1].startswith("admin Root@Example.com (")
    again = runner.invoke(
        cli, ["create-admin", "--email", "root@example.com", "--password", "other password!"]
    )
    assert again.exit_code == 0, again.output
    assert asyncio.run(_roles(database)) == {"root@example.com": ["admin", "buyer"]}


def test_create_admin_refuses_a_short_password(database: str) -> None:
    result = CliRunner().invoke(
        cli, ["create-admin", "--email", "root@example.com", "--password", "short"]
    )
    assert result.exit_code == 2
    assert "at least 8 characters" in result.output
    assert asyncio.run(_roles(database)) == {}
