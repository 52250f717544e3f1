"""Another user's file is a 404 on every route, and nothing they try changes it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Jobs
from tests.files import media
from tests.files.conftest import api_key, new_user, stored_keys, upload


async def test_every_route_hides_another_users_file(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    alice = await new_user(client)
    bob = await new_user(client)
    bob_key = await api_key(client, bob, "files:read", "files:write")
    processed = (await upload(client, alice, media.jpeg(64, 64), "a.jpg")).json()["id"]
    await jobs.run(app)
    failed = (await upload(client, alice, media.png_header_only(20000, 20000), "b.png")).json()
    await jobs.run(app)
    keys = stored_keys(app)

    for intruder in (bob, bob_key):
        for file_id in (processed, failed["id"]):
            for method, path in [
                ("GET", f"/upload/{file_id}/status"),
                ("GET", f"/upload/{file_id}/result"),
                ("GET", f"/files/{file_id}"),
                ("POST", f"/files/{file_id}/retry"),
                ("DELETE", f"/files/{file_id}"),
            ]:
                response = await client.request(method, path, headers=intruder)
                assert response.status_code == 404, (method, path, response.text)
                assert response.json()["error"]["code"] == "file_not_found"
        listing = (await client.get("/files", headers=intruder)).json()
        assert listing == {"items": [], "total": 0, "page": 1, "per_page": 20, "pages": 0}

    assert stored_keys(app) == keys
    assert jobs.published == []  # bob's retry queued nothing
    mine = (await client.get("/files", headers=alice)).json()
    assert mine["total"] == 2
    assert (await client.get(f"/files/{failed['id']}", headers=alice)).json()["status"] == "failed"


async def test_unknown_and_malformed_ids_are_404_and_422(
    client: httpx.AsyncClient, user: dict[str, str]
) -> None:
    missing = await client.get("/files/01a212a0-0000-7000-8000-000000000000", headers=user)
    assert missing.status_code == 404
    malformed = await client.get("/files/not-a-uuid", headers=user)
    assert malformed.status_code == 422
    assert malformed.json()["error"]["code"] == "validation_error"
