"""No password, token or API key ever reaches the logs, even through a full flow."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import httpx
import pytest

from .conftest import bearer


async def test_a_full_flow_logs_no_secret(
    client: httpx.AsyncClient, app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    root = logging.getLogger()
    rendered = io.StringIO()
    handler = logging.StreamHandler(rendered)
    handler.setFormatter(root.handlers[0].formatter)  # the JSON renderer that production uses
    root.addHandler(handler)
    secrets: list[str] = []
    try:
        password, new_password, wrong = "s3cret-Passw0rd-1", "s3cret-Passw0rd-2", "wr0ng-Passw0rd-3"
        secrets += [password, new_password, wrong]
        email = "logs@example.com"
        assert (
            await client.post("/auth/signup", json={"email": email, "password": password})
        ).status_code == 201
        assert (
            await client.post("/auth/login", json={"email": email, "password": wrong})
        ).status_code == 401
        form = await client.post("/auth/login", data={"username": email, "password": password})
        pair = form.json()
        secrets += [pair["access_token"], pair["refresh_token"]]
        refreshed = (
            await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        ).json()
        secrets += [refreshed["access_token"], refreshed["refresh_token"]]
        token = refreshed["access_token"]
        me = await client.get("/user/me", headers=bearer(token))
        assert me.status_code == 200
        created = (
            await client.post(
                "/keys/create",
                json={"name": "k", "scopes": ["examples:read"]},
                headers=bearer(token),
            )
        ).json()
        secrets.append(created["key"])
        assert (
            await client.get("/examples/either", headers={"X-API-Key": created["key"]})
        ).status_code == 200
        assert (
            await client.get("/examples/either", headers=bearer(created["key"]))
        ).status_code == 200
        rotated = (await client.post(f"/keys/{created['id']}/rotate", headers=bearer(token))).json()
        secrets.append(rotated["key"])
        changed = await client.post(
            "/auth/change-password",
            json={"current_password": password, "new_password": new_password},
            headers=bearer(token),
        )
        assert changed.status_code == 200
        assert (await client.post("/auth/logout", headers=bearer(token))).status_code == 204
        assert (await client.get("/user/me", headers=bearer(token))).status_code == 401
    finally:
        root.removeHandler(handler)

    output = rendered.getvalue() + caplog.text
    assert "http.request" in output
    assert "identity.login.succeeded" in output
    leaked = [s[:12] for s in secrets if s in output]
    assert leaked == []
    # The access log carries the authenticated user's id.
    me_lines = [
        json.loads(line)
        for line in rendered.getvalue().splitlines()
        if '"http.request"' in line and '"/user/me"' in line and '"status": 200' in line
    ]
    assert me_lines
    assert me_lines[0]["user_id"] == me.json()["id"]
