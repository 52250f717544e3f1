"""Readiness, metrics, settings safety, migrations and log hygiene."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from sqlalchemy import inspect

from oja.core.config import Settings, UnsafeSettingsError
from oja.core.db import Base, Database
from oja.core.logging import MAYBE_SECRET, _scrub
from oja.core.migrate import downgrade, upgrade
from oja.main import create_app
from tests.conftest import TEST_SECRET, LogCapture, make_settings, service_url


async def test_readiness_is_ok_when_everything_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "storage": "ok"},
        "down": [],
    }


async def test_readiness_names_a_stopped_redis_with_503(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url, redis_url="redis://127.0.0.1:1/0")
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/readyz")
    finally:
        await app.state.runtime.close()
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["redis"]
    assert body["checks"]["redis"].startswith("down: ")
    assert body["checks"]["database"] == "ok"


async def test_readiness_with_a_real_redis_is_ok(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url, redis_url=service_url("redis"))
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/readyz")
    finally:
        await app.state.runtime.close()
    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == "ok"


async def test_readiness_reports_a_database_that_is_gone(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, "postgresql+asyncpg://nobody@127.0.0.1:1/none", broker_url="filesystem://"
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/readyz")
    finally:
        await app.state.runtime.close()
    assert response.status_code == 503
    assert response.json()["down"] == ["database"]


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    await client.get("/healthz")
    await client.get("/no/such/route")
    text = (await client.get("/metrics")).text
    assert 'oja_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'oja_http_requests_total{method="GET",route="unmatched",status="404"}' in text
    assert "oja_queue_depth 0.0" in text
    assert "oja_http_request_duration_seconds_bucket" in text


# --- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({}, "OJA_SECRET_KEY must be set"),
        ({"secret_key": "short"}, "OJA_SECRET_KEY must be at least 32 bytes"),
        ({"secret_key": TEST_SECRET, "debug": True}, "OJA_DEBUG must be off"),
        (
            {"secret_key": TEST_SECRET, "cors_origins": ["*"], "cors_allow_credentials": True},
            "OJA_CORS_ORIGINS must not be '*'",
        ),
    ],
)
def test_production_refuses_unsafe_settings_and_names_the_variable(
    tmp_path: Path, overrides: dict[str, Any], named: str
) -> None:
    settings = Settings(env="production", var_dir=tmp_path, **overrides)
    with pytest.raises(UnsafeSettingsError, match=named):
        settings.validate()
    assert not (tmp_path / "secret_key").exists()  # production never invents a secret


def test_production_accepts_safe_settings(tmp_path: Path) -> None:
    settings = Settings(env="production", var_dir=tmp_path, secret_key=TEST_SECRET)
    settings.validate()
    assert settings.secret_key == TEST_SECRET


def test_development_creates_one_secret_and_keeps_it(tmp_path: Path) -> None:
    first = Settings(env="development", var_dir=tmp_path)
    first.validate()
    second = Settings(env="development", var_dir=tmp_path)
    second.validate()
    assert first.secret_key == second.secret_key
    assert len(first.secret_key) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OJA_BROKER_URL", "redis://example:6379/3")
    monkeypatch.setenv("OJA_MAX_BODY_BYTES", "2048")
    settings = Settings(var_dir=tmp_path)
    assert settings.broker_url == "redis://example:6379/3"
    assert settings.app.max_body_bytes == 2048


def test_every_setting_is_documented() -> None:
    for section in Settings().sections:
        for name, field in type(section).model_fields.items():
            assert field.description, f"OJA_{name.upper()} has no docstring"


# --- migrations -----------------------------------------------------------------------------


async def _tables(url: str) -> set[str]:
    database = Database(url)
    async with database.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await database.dispose()
    return tables


def test_migrations_go_down_and_up_again_and_match_the_models(database_url: str) -> None:
    downgrade(database_url, "base")
    assert asyncio.run(_tables(database_url)) <= {"alembic_version"}
    upgrade(database_url)
    assert set(Base.metadata.tables) <= asyncio.run(_tables(database_url))


# --- logs -----------------------------------------------------------------------------------


SECRETS = {
    "password": "correct horse battery staple",
    "otp": "482913",
    "api_key": "oja_sk_Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4",
    "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJlc2lnbmF0dXJl",
}


def test_secrets_never_reach_a_log_line(app: Any, log_output: LogCapture) -> None:
    log = structlog.get_logger("oja.test")
    log.info("auth.login", password=SECRETS["password"], email="a@example.com")
    log.info("auth.otp.sent", mobile="+2348000000000", otp=SECRETS["otp"])
    log.info("request", headers={"authorization": f"Bearer {SECRETS['access_token']}"})
    log.info("keys.used", detail=f"key {SECRETS['api_key']} accepted")
    log.warning(f"free text with token={SECRETS['access_token']} and otp: {SECRETS['otp']}")
    logging.getLogger("thirdparty").warning("X-API-Key: %s", SECRETS["api_key"])
    try:
        raise ValueError(f"bad password={SECRETS['password'].split()[0]}")
    except ValueError:
        log.exception("crash")
    text = log_output.text
    for secret in [*SECRETS.values(), "correct"]:
        assert secret not in text, secret
    events = log_output.events()
    assert [e["event"] for e in events][:4] == [
        "auth.login",
        "auth.otp.sent",
        "request",
        "keys.used",
    ]
    assert events[0]["email"] == "a@example.com"  # ordinary fields survive
    assert events[1]["mobile"] == "+2348000000000"
    assert all(json.dumps(e) for e in events)


@pytest.mark.parametrize(
    "text",
    [
        f"header BeArEr {SECRETS['access_token'][::-1]}",
        f"jwt {SECRETS['access_token']}",
        f"key {SECRETS['api_key']}",
        "stripe sk_live_abcdefgh12345678",
        "oja_live_abcdefgh12345678 used",
        "retry with password=hunter2",
        'body {"token": "abc123"}',
    ],
)
def test_the_quick_check_never_lets_a_secret_through(text: str) -> None:
    """Strings skip both substitutions when the quick pattern finds nothing; each shape of secret
    must still reach them."""
    assert MAYBE_SECRET.search(text) is not None
    scrubbed = _scrub(text)
    assert scrubbed != text
    assert "***" in scrubbed


def test_plain_strings_are_not_rewritten() -> None:
    for text in ["GET", "/user/me", "0190e0a1-1111-7222-8333-444455556666", "http.request"]:
        assert _scrub(text) is text
