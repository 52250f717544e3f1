"""POST /upload: the streamed multipart contract, limits, sniffing, names, rate limit, scopes."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from oja.files.models import File
from oja.files.naming import MAX_FILENAME_CHARS, sanitize_filename
from tests.conftest import Jobs
from tests.fastapi_solves import count_solves
from tests.files import media
from tests.files.conftest import (
    TEST_MAX_UPLOAD,
    api_key,
    multipart_body,
    new_user,
    set_files_env,
    stored_keys,
    upload,
)


async def count_files(app: Any) -> int:
    async with app.state.runtime.database.sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(File))).scalar_one())


async def test_upload_answers_201_with_the_stored_facts(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, user: dict[str, str]
) -> None:
    data = media.jpeg(640, 480)
    response = await upload(
        client, user, data, "holiday.jpg", "image/jpeg", title="Beach", description="December"
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {
        "id",
        "status",
        "filename",
        "size",
        "content_type",
        "sha256",
        "title",
        "description",
        "created_at",
    }
    assert body["status"] == "uploaded"
    assert body["filename"] == "holiday.jpg"
    assert body["size"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["content_type"] == "image/jpeg"
    assert (body["title"], body["description"]) == ("Beach", "December")
    me = (await client.get("/user/me", headers=user)).json()
    assert stored_keys(app) == [f"files/{me['id']}/{body['id']}/original"]
    assert len(jobs.published) == 1  # the row and its job, published after the commit
    assert response.headers["RateLimit-Limit"] == "1000"


async def test_declared_type_is_not_trusted(
    client: httpx.AsyncClient, app: Any, user: dict[str, str]
) -> None:
    response = await upload(client, user, b"just some text\n" * 10, "photo.png", "image/png")
    assert response.status_code == 201
    assert response.json()["content_type"] == "text/plain"
    detail = (await client.get(f"/files/{response.json()['id']}", headers=user)).json()
    assert detail["declared_content_type"] == "image/png"


async def test_fields_sent_after_the_file_are_read(
    client: httpx.AsyncClient, user: dict[str, str]
) -> None:
    body, headers = multipart_body(
        [
            (b"file", b"notes.txt", b"text/plain", b"hello"),
            (b"title", None, None, "Résumé ✓".encode()),
            (b"description", None, None, b"after the file"),
        ]
    )
    response = await client.post("/upload", content=body, headers={**headers, **user})
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "Résumé ✓"
    assert response.json()["description"] == "after the file"


async def test_fields_sent_after_a_large_file_are_read(
    client: httpx.AsyncClient, user: dict[str, str]
) -> None:
    # Past the first network chunks: the fields are parsed only once the file's bytes have been.
    data = b"\x00\x01" * (512 * 1024)
    body, headers = multipart_body(
        [
            (b"file", b"big.bin", b"application/octet-stream", data),
            (b"title", None, None, b"after a megabyte"),
            (b"description", None, None, b"still read"),
        ]
    )

    async def in_chunks() -> Any:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    response = await client.post("/upload", content=in_chunks(), headers={**headers, **user})

    assert response.status_code == 201, response.text
    assert response.json()["title"] == "after a megabyte"
    assert response.json()["description"] == "still read"
    assert response.json()["size"] == len(data)


async def test_a_file_one_byte_over_the_limit_is_413_with_nothing_stored(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, user: dict[str, str]
) -> None:
    response = await upload(client, user, b"x" * (TEST_MAX_UPLOAD + 1), "big.bin")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert await count_files(app) == 0
    assert stored_keys(app) == []
    assert jobs.published == []
    exact = await upload(client, user, b"x" * TEST_MAX_UPLOAD, "exact.bin")
    assert exact.status_code == 201
    assert exact.json()["size"] == TEST_MAX_UPLOAD


async def test_a_body_declaring_too_much_is_refused_before_reading(
    client: httpx.AsyncClient, app: Any, user: dict[str, str]
) -> None:
    body, headers = multipart_body([(b"file", b"a.bin", None, b"x" * 10)])
    headers["Content-Length"] = str(TEST_MAX_UPLOAD * 2)

    async def stream() -> Any:
        yield body

    response = await client.post("/upload", content=stream(), headers={**headers, **user})
    assert response.status_code == 413
    assert await count_files(app) == 0


async def test_missing_file_part_is_422_envelope(
    client: httpx.AsyncClient, app: Any, user: dict[str, str]
) -> None:
    body, headers = multipart_body([(b"title", None, None, b"no file here")])
    response = await client.post("/upload", content=body, headers={**headers, **user})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["loc"] == ["body", "file"]
    assert await count_files(app) == 0


async def test_empty_file_is_422_and_nothing_is_stored(
    client: httpx.AsyncClient, app: Any, user: dict[str, str]
) -> None:
    response = await upload(client, user, b"", "empty.txt")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "empty_file"
    assert stored_keys(app) == []


async def test_not_multipart_is_415(client: httpx.AsyncClient, user: dict[str, str]) -> None:
    response = await client.post(
        "/upload", content=b"raw", headers={**user, "Content-Type": "application/octet-stream"}
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


async def test_a_truncated_body_is_400_and_nothing_is_stored(
    client: httpx.AsyncClient, app: Any, user: dict[str, str]
) -> None:
    body, headers = multipart_body([(b"file", b"a.txt", None, b"hello" * 1000)])
    response = await client.post("/upload", content=body[:-40], headers={**headers, **user})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_multipart"
    assert stored_keys(app) == []
    assert await count_files(app) == 0


def commits_alone(app: Any) -> bool:
    """Whether an upload commits its row and job as one statement of its own (PostgreSQL) rather
    than in the unit of work's COMMIT (SQLite)."""
    from oja.files import repository

    return repository.supports_insert_with_job(app.state.runtime.database)


def fail_the_commit(app: Any, monkeypatch: Any) -> None:
    """The database dies when the upload's row is committed: at the one INSERT … WITH statement
    that commits it on PostgreSQL, at the unit of work's COMMIT on SQLite."""
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.ext.asyncio import AsyncSession

    from oja.core.db import DriverRead

    if commits_alone(app):

        async def lost_statement(self: DriverRead, database: Any, params: Any) -> Any:
            raise OperationalError("INSERT", {}, ConnectionResetError("server closed"))

        monkeypatch.setattr(DriverRead, "rows", lost_statement)
        return
    real_commit = AsyncSession.commit

    async def lost_connection(self: AsyncSession) -> None:
        if self.info.get("oja.after_rollback"):
            raise OperationalError("COMMIT", {}, ConnectionResetError("server closed"))
        await real_commit(self)

    monkeypatch.setattr(AsyncSession, "commit", lost_connection)


async def test_a_commit_that_fails_is_503_and_deletes_the_stored_object(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, user: dict[str, str], monkeypatch: Any
) -> None:
    """The database dies when the row commits (the PostgreSQL-outage test's race): the client is
    told 503 and the object written before the row does not stay behind."""
    fail_the_commit(app, monkeypatch)
    response = await upload(client, user, b"doomed\n" * 10, "doomed.txt")
    monkeypatch.undo()
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "service_unavailable"
    assert stored_keys(app) == []
    assert await count_files(app) == 0
    assert jobs.published == []


async def test_an_insert_that_fails_is_503_and_leaves_no_object(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, user: dict[str, str], monkeypatch: Any
) -> None:
    """The database dies at the INSERTs (on SQLite they run while the object is being fsynced:
    the put waits for the fsync, then removes the object): the client is told 503."""
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.ext.asyncio import AsyncSession

    async def lost_connection(self: AsyncSession, objects: Any = None) -> None:
        raise OperationalError("INSERT", {}, ConnectionResetError("server closed"))

    if commits_alone(app):
        fail_the_commit(app, monkeypatch)
    else:
        monkeypatch.setattr(AsyncSession, "flush", lost_connection)
    response = await upload(client, user, b"doomed\n" * 10, "doomed.txt")
    monkeypatch.undo()

    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "service_unavailable"
    assert stored_keys(app) == []
    assert await count_files(app) == 0
    assert jobs.published == []


async def test_the_row_commits_only_once_the_object_is_durable(
    client: httpx.AsyncClient, app: Any, user: dict[str, str], monkeypatch: Any
) -> None:
    """The INSERTs may overlap the fsyncs, the COMMIT never does: a crash cannot leave a row whose
    object's bytes or name were not on disk."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from oja.core.db import DriverRead
    from oja.core.storage import LocalStorage, local

    if not isinstance(app.state.runtime.storage, LocalStorage):
        pytest.skip("the local adapter's fsyncs")
    events: list[str] = []
    real_sync, real_commit, real_rows = local._sync, AsyncSession.commit, DriverRead.rows

    def sync(replacement: Any) -> None:
        real_sync(replacement)
        events.append("object durable")

    async def commit(self: AsyncSession) -> None:
        if self.info.get("oja.after_rollback"):  # the upload's unit of work (SQLite)
            events.append("commit")
        await real_commit(self)

    async def rows(self: DriverRead, database: Any, params: dict[str, Any]) -> Any:
        if "file_sha256" in params:  # the upload's one autocommit statement (PostgreSQL)
            events.append("commit")
        return await real_rows(self, database, params)

    monkeypatch.setattr(local, "_sync", sync)
    monkeypatch.setattr(AsyncSession, "commit", commit)
    monkeypatch.setattr(DriverRead, "rows", rows)
    response = await upload(client, user, b"durable\n" * 10, "durable.txt")

    assert response.status_code == 201, response.text
    assert events == ["object durable", "commit"]


async def test_the_row_and_its_job_are_committed_together_and_published(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, user: dict[str, str]
) -> None:
    """What the upload commits, on either path: the file row with the stored facts and one queued
    processing job for it, whose message is published once."""
    from oja.core.jobs import Job

    data = b"kept\n" * 100
    response = await upload(client, user, data, "kept.txt", "text/plain", title="Kept")
    assert response.status_code == 201, response.text
    body = response.json()
    async with app.state.runtime.database.sessionmaker() as session:
        file = (await session.execute(select(File))).scalar_one()
        job = (await session.execute(select(Job))).scalar_one()
    assert str(file.id) == body["id"]
    assert (file.size, file.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert (file.title, file.status, file.progress) == ("Kept", "uploaded", 0)
    assert (file.content_type, file.declared_content_type) == ("text/plain", "text/plain")
    assert file.original_filename == "kept.txt"
    assert file.created_at.isoformat().replace("+00:00", "Z") == body["created_at"].replace(
        "+00:00", "Z"
    )
    assert (job.kind, job.status, job.subject_type, job.subject_id) == (
        "files.process",
        "queued",
        "file",
        body["id"],
    )
    assert job.payload == {"file_id": body["id"]}
    assert jobs.published == [job.id]


async def test_an_upload_sends_the_check_and_then_its_commit_only(
    client: httpx.AsyncClient, app: Any, user: dict[str, str]
) -> None:
    """On PostgreSQL an upload's SQL is one statement: the row and its job in one INSERT … WITH
    (its own transaction) that checks the session too; on SQLite the session check, then the two
    INSERTs of the unit of work."""
    from sqlalchemy import event

    sent: list[str] = []
    engine = app.state.runtime.database.engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(" ".join(statement.split()[:3]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        response = await upload(client, user, b"counted\n" * 10, "counted.txt")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 201, response.text
    if commits_alone(app):
        assert sent == ["WITH new_file AS"]
    else:
        assert sent[0].startswith("SELECT")  # the session check
        assert sent[1:] == ["INSERT INTO file", "INSERT INTO job"]


async def count_jobs(app: Any) -> int:
    from oja.core.jobs import Job

    async with app.state.runtime.database.sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(Job))).scalar_one())


async def assert_nothing_kept(app: Any, jobs: Jobs) -> None:
    assert stored_keys(app) == []
    assert (await count_files(app), await count_jobs(app)) == (0, 0)
    assert jobs.published == []


async def sign_out(client: httpx.AsyncClient, user: dict[str, str]) -> None:
    response = await client.post("/auth/logout", headers=user)
    assert response.status_code == 204, response.text


@pytest.mark.parametrize("body", ["a file", "an empty file", "not multipart", "too large"])
async def test_a_signed_out_token_gets_its_401_whatever_it_sends_and_nothing_is_kept(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, user: dict[str, str], body: str
) -> None:
    """On PostgreSQL the session is checked by the upload's INSERT, after the body: a token
    signed out before is still told 401 `session_revoked` (not the body's 413/422), and nothing
    it sent is kept. On SQLite it is checked first, with the same answer."""
    await sign_out(client, user)
    if body == "not multipart":
        response = await client.post(
            "/upload", content=b"{}", headers={**user, "Content-Type": "application/json"}
        )
    else:
        data = {"a file": b"kept?\n" * 10, "an empty file": b"", "too large": b""}[body]
        if body == "too large":
            data = b"x" * (TEST_MAX_UPLOAD + 1)
        response = await upload(client, user, data, "signed-out.txt")
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "session_revoked"
    await assert_nothing_kept(app, jobs)


async def test_a_signed_out_token_over_the_rate_limit_gets_its_401(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, user: dict[str, str], monkeypatch: Any
) -> None:
    set_files_env(app, monkeypatch, OJA_UPLOAD_RATE="1/minute")
    assert (await upload(client, user, b"first\n", "first.txt")).status_code == 201
    assert (await upload(client, user, b"second\n", "second.txt")).status_code == 429
    await sign_out(client, user)
    response = await upload(client, user, b"third\n", "third.txt")
    assert (response.status_code, response.json()["error"]["code"]) == (401, "session_revoked")
    assert await count_files(app) == 1


async def test_a_disabled_accounts_token_is_refused_and_its_upload_keeps_nothing(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, user: dict[str, str]
) -> None:
    """Disabling an account (the admin panel's `is_active`) stops its tokens on their next
    request, on routes that check only the principal as on those that read the user; on
    PostgreSQL the upload's INSERT checks it with the session."""
    from sqlalchemy import update

    from oja.identity.models import User

    assert (await client.get("/files", headers=user)).status_code == 200
    async with app.state.runtime.database.sessionmaker() as session:
        await session.execute(update(User).values(is_active=False))
        await session.commit()
    for response in (
        await client.get("/files", headers=user),
        await upload(client, user, b"disabled\n" * 10, "disabled.txt"),
    ):
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "account_disabled"
    await assert_nothing_kept(app, jobs)


# Signed out while its body streams: only PostgreSQL checks the session after the body (SQLite
# checked it before, when it was signed in, as every other route does).
@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_session_signed_out_while_its_body_streams_keeps_nothing(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, user: dict[str, str], database_url: str
) -> None:
    data, headers = multipart_body([(b"file", b"late.txt", b"text/plain", b"late\n" * 4096)])
    signed_out: list[bool] = []

    async def body() -> Any:
        yield data[:1024]
        await sign_out(client, user)  # the same token, on another request, mid-upload
        signed_out.append(True)
        yield data[1024:]

    response = await client.post("/upload", content=body(), headers={**user, **headers})
    assert signed_out == [True]
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "session_revoked"
    await assert_nothing_kept(app, jobs)


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_token_naming_another_users_session_keeps_nothing(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, user: dict[str, str], database_url: str
) -> None:
    """The INSERT's check matches the session to the token's user: a token (validly signed)
    whose `sid` is another user's live session is refused, 401 `invalid_token`."""
    from oja.identity import tokens
    from oja.identity.config import get_identity_settings

    other = await new_user(client)
    other_id = uuid.UUID((await client.get("/user/me", headers=other)).json()["id"])
    settings, secret = get_identity_settings(), app.state.runtime.settings.secret_key
    mine = tokens.decode(
        user["Authorization"].removeprefix("Bearer "),
        typ="access",
        secret=secret,
        settings=settings,
    )
    forged = tokens.encode(
        dataclasses.replace(mine, user_id=other_id), secret=secret, settings=settings
    )
    response = await upload(client, {"Authorization": f"Bearer {forged}"}, b"mixed\n", "m.txt")
    assert (response.status_code, response.json()["error"]["code"]) == (401, "invalid_token")
    await assert_nothing_kept(app, jobs)


async def test_libmagic_sees_only_the_first_sniff_bytes(
    client: httpx.AsyncClient, user: dict[str, str], monkeypatch: Any
) -> None:
    """However large the network chunk that carried the file's start, the type is sniffed from
    its first SNIFF_BYTES, as the processing pipeline sniffs it."""
    from oja.files import service
    from oja.files.sniffing import SNIFF_BYTES

    seen: list[int] = []
    real_sniff = service.sniff

    def sniff(head: bytes) -> str:
        seen.append(len(head))
        return real_sniff(head)

    monkeypatch.setattr(service, "sniff", sniff)
    data = media.jpeg(640, 480) + b"\0" * (4 * SNIFF_BYTES)
    response = await upload(client, user, data, "big-head.jpg", "image/jpeg")
    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == "image/jpeg"
    assert seen == [SNIFF_BYTES]


async def _unused_dependency() -> None:
    """Never in any route's tree: overriding it only makes `LeanRoute` defer to FastAPI."""


def _comparable(response: httpx.Response) -> tuple[int, list[tuple[str, str]], Any]:
    """Status, headers and body, without what differs between any two uploads (the request id,
    a new file's id and time, the length of that time's text)."""
    varying = {"x-request-id", "content-length", "ratelimit-remaining", "ratelimit-reset"}
    headers = [(k, v) for k, v in response.headers.multi_items() if k not in varying]
    body = response.json()
    if response.status_code == 201:
        body = {**body, "id": "<id>", "created_at": "<time>"}
    return response.status_code, headers, body


async def test_the_lean_upload_route_answers_as_fastapi_does(
    client: httpx.AsyncClient, app: Any, user: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`POST /upload` is a `LeanRoute`: for every shape of body (a valid one with an extra field,
    no `file` part, the wrong content type, none at all, an empty body or file, a cut-off body,
    no credentials) it answers with the status, headers and body of FastAPI's own handler
    (which it defers to under dependency overrides), and skips FastAPI's solver."""
    solved = count_solves(monkeypatch)
    valid, form = multipart_body(
        [
            (b"title", None, None, b"Notes"),
            (b"file", b"notes.txt", b"text/plain", b"hello " * 100),
            (b"extra", None, None, b"ignored"),
            (b"description", None, None, b"after the file"),
        ]
    )
    no_file, _ = multipart_body([(b"title", None, None, b"no file"), (b"files", b"a", None, b"x")])
    empty_file, _ = multipart_body([(b"file", b"empty.txt", None, b"")])
    shapes: list[tuple[bytes, dict[str, str]]] = [
        (valid, {**form, **user}),
        (no_file, {**form, **user}),
        (valid, {**user, "Content-Type": "application/json"}),
        (valid, {**user, "Content-Type": "multipart/form-data"}),  # no boundary
        (valid, dict(user)),  # no content type
        (b"", {**form, **user}),
        (empty_file, {**form, **user}),
        (valid[:-40], {**form, **user}),
        (valid, form),  # no credentials
    ]

    async def answers() -> list[tuple[int, list[tuple[str, str]], Any]]:
        out = []
        for content, headers in shapes:
            response = await client.post("/upload", content=content, headers=headers)
            out.append(_comparable(response))
        return out

    lean = await answers()
    assert solved == []
    app.dependency_overrides[_unused_dependency] = _unused_dependency
    try:
        standard = await answers()
    finally:
        del app.dependency_overrides[_unused_dependency]
    assert solved == ["/upload"] * len(shapes)
    assert lean == standard
    assert [status for status, _, _ in lean] == [201, 422, 415, 415, 415, 400, 422, 400, 401]
    created = lean[0]
    assert (created[2]["title"], created[2]["description"]) == ("Notes", "after the file")
    assert ("ratelimit-limit", "1000") in created[1]


async def test_too_long_title_is_422_and_nothing_is_kept(
    client: httpx.AsyncClient, app: Any, user: dict[str, str]
) -> None:
    response = await upload(client, user, b"data", "a.txt", title="t" * 256)
    assert response.status_code == 422
    assert stored_keys(app) == []
    assert await count_files(app) == 0


async def test_upload_rate_limit_is_429_with_headers(
    client: httpx.AsyncClient, app: Any, user: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    set_files_env(app, monkeypatch, OJA_UPLOAD_RATE="2/minute")
    for _ in range(2):
        assert (await upload(client, user, b"data", "a.txt")).status_code == 201
    refused = await upload(client, user, b"data", "a.txt")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert await count_files(app) == 2
    other = await new_user(client)  # per user, not global
    assert (await upload(client, other, b"data", "a.txt")).status_code == 201


async def test_scopes_decide_what_an_api_key_may_do(
    client: httpx.AsyncClient, user: dict[str, str]
) -> None:
    reader = await api_key(client, user, "files:read")
    writer = await api_key(client, user, "files:write")
    assert (await upload(client, reader, b"data", "a.txt")).status_code == 403
    created = await upload(client, writer, b"data", "a.txt")
    assert created.status_code == 201
    file_id = created.json()["id"]
    assert (await client.get(f"/files/{file_id}", headers=reader)).status_code == 200
    assert (await client.get(f"/files/{file_id}", headers=writer)).status_code == 403
    assert (await client.delete(f"/files/{file_id}", headers=reader)).status_code == 403
    assert (await client.get("/files")).status_code == 401


async def test_list_is_newest_first_and_paginated(
    client: httpx.AsyncClient, user: dict[str, str]
) -> None:
    ids = [
        (await upload(client, user, f"n{i}".encode(), f"{i}.txt")).json()["id"] for i in range(3)
    ]
    first = (await client.get("/files?page=1&per_page=2", headers=user)).json()
    assert [item["id"] for item in first["items"]] == [ids[2], ids[1]]
    assert (first["total"], first["page"], first["per_page"]) == (3, 1, 2)
    second = (await client.get("/files?page=2&per_page=2", headers=user)).json()
    assert [item["id"] for item in second["items"]] == [ids[0]]
    for query in ("page=0", "per_page=0", "per_page=101", "page=x"):
        response = await client.get(f"/files?{query}", headers=user)
        assert response.status_code == 422, query
        assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../x", "x"),
        ("..\\..\\x", "x"),
        ("/etc/passwd", "passwd"),
        ("C:\\Windows\\system32\\x.dll", "x.dll"),
        ("C:x.txt", "x.txt"),
        ("a\x00b.txt", "ab.txt"),
        ("\u202egnp.exe", "gnp.exe"),
        ("résumé-简历-🙂.txt", "résumé-简历-🙂.txt"),
        ("x.jpg.php", "x.jpg.php"),
        ("....", "upload"),
        ("", "upload"),
        (".htaccess", "htaccess"),
        ("line\r\nbreak.txt", "linebreak.txt"),
    ],
)
def test_sanitize_filename(raw: str, expected: str) -> None:
    assert sanitize_filename(raw) == expected


def test_sanitize_filename_limits_length_and_keeps_the_extension() -> None:
    name = sanitize_filename("é" * 300 + ".pdf")
    assert len(name) == MAX_FILENAME_CHARS
    assert name.endswith(".pdf")
