"""The fakes' outgoing calls (payment webhooks, SendGrid events, Twilio status callbacks) share
one verifying TLS context: a context built per delivery loaded the CA bundle every time (~40 CPU
ms, most of the sandbox's CPU per paid checkout on the shopping day)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from oja.core.http import tls_context
from oja.sandbox.server import SandboxServer
from oja.sandbox.webhooks import WebhookSender


@pytest.fixture
def hook_url() -> Iterator[str]:
    app = FastAPI()

    @app.post("/hook")
    async def hook() -> dict[str, bool]:
        return {"ok": True}

    with SandboxServer(app) as server:
        yield server.url + "/hook"


async def test_deliveries_load_no_ca_bundle(hook_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    context = tls_context()  # built once per process, before the count starts
    loads: list[object] = []
    original = ssl.SSLContext.load_verify_locations

    def counted(self: ssl.SSLContext, *args: object, **kwargs: object) -> None:
        loads.append(args)
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    sender = WebhookSender(hook_url, lambda body: {"x-signature": "s"})
    statuses = [await sender.send("charge.success", b"{}") for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert loads == []
    assert tls_context() is context
    assert context.verify_mode == ssl.CERT_REQUIRED
