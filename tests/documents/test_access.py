"""Owner isolation on every route, scopes for API keys, and no credentials → 401."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Jobs

from .conftest import api_key, bearer, token_for, upload, uploaded_id

ROUTES = [
    ("GET", "/documents/{id}"),
    ("GET", "/documents/{id}/status"),
    ("GET", "/documents/{id}/result"),
    ("POST", "/documents/{id}/process"),
    ("POST", "/documents/{id}/analyze"),
]


async def test_another_users_document_is_404_everywhere(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    owner = bearer(await token_for(client))
    intruder = bearer(await token_for(client))
    document_id = await uploaded_id(client, owner, b"Dear Sir, a letter. Yours faithfully, Ada")
    await jobs.run(app)
    for method, path in ROUTES:
        response = await client.request(method, path.format(id=document_id), headers=intruder)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"] == {
            "code": "document_not_found",
            "message": "No such document.",
            "details": None,
        }
    assert (await client.get("/documents", headers=intruder)).json() == {
        "items": [],
        "total": 0,
        "page": 1,
        "per_page": 20,
        "pages": 0,
    }
    assert jobs.published == []  # the intruder started nothing
    status = (await client.get(f"/documents/{document_id}/status", headers=owner)).json()
    assert status["status"] == "UPLOADED"


async def test_api_keys_need_the_documents_scopes(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    token = await token_for(client)
    reader = {"X-API-Key": await api_key(client, token, ["documents:read"])}
    writer = {"X-API-Key": await api_key(client, token, ["documents:write", "documents:read"])}
    other = {"X-API-Key": await api_key(client, token, ["files:read"])}
    document_id = await uploaded_id(client, writer, b"Some plain text to keep.")
    refused = await upload(client, reader, b"more text")
    assert refused.status_code == 403
    assert refused.json()["error"]["details"] == {"missing_scopes": ["documents:write"]}
    listing = (await client.get("/documents", headers=reader)).json()
    assert [i["document_id"] for i in listing["items"]] == [document_id]
    assert (
        await client.post(f"/documents/{document_id}/process", headers=reader)
    ).status_code == 403
    assert (await client.get(f"/documents/{document_id}", headers=other)).status_code == 403
    # The key acts for the user who made it: the user's token sees the same document.
    assert (await client.get(f"/documents/{document_id}", headers=bearer(token))).status_code == 200


async def test_no_credentials_is_401(client: httpx.AsyncClient) -> None:
    for method, path in [("GET", "/documents"), ("POST", "/documents/upload"), *ROUTES]:
        response = await client.request(
            method, path.format(id="01a212a8-0000-7000-8000-000000000000")
        )
        assert response.status_code == 401, (method, path)


async def test_pagination(client: httpx.AsyncClient, app: Any) -> None:
    headers = bearer(await token_for(client))
    ids = [
        await uploaded_id(client, headers, f"Document number {i}.".encode(), f"{i}.txt")
        for i in range(5)
    ]
    first = (await client.get("/documents?page=1&per_page=2", headers=headers)).json()
    third = (await client.get("/documents?page=3&per_page=2", headers=headers)).json()
    assert [i["document_id"] for i in first["items"]] == [ids[4], ids[3]]
    assert [i["document_id"] for i in third["items"]] == [ids[0]]
    assert (first["total"], first["page"], first["per_page"]) == (5, 1, 2)
    assert [i["filename"] for i in third["items"]] == ["0.txt"]
