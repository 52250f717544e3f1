"""How a cell of the authorization matrix (``matrix.ROWS``) is proven against the running app.

Each route is one test; in it every caller makes the request once, against objects created fresh
for that caller (user A owns them), so a consuming route (DELETE, revoke, logout) never spoils the
next cell. Where B must be told 404 (A's object), every table is compared before and after B's
call: the refusal wrote nothing. The tests are ``test_authorization*.py``; a route the app serves
without a row fails the run.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from oja.core.jobs.runner import execute
from oja.identity.config import IdentitySettings
from oja.identity.scopes import Role
from tests.reliability import harness
from tests.reliability.conftest import DroppedJobs
from tests.reliability.marketplace_needs import MARKETPLACE_NEEDS
from tests.reliability.matrix import CALLERS, ROWS, Ctx, Row, matches


async def _objects(ctx: Ctx, row: Row) -> dict[str, str]:
    people, client, ids = ctx.people, ctx.client, ctx.ids
    for need in row.needs:
        if need == "file":
            ids["file_id"] = await harness.upload_file(client, people.a)
        elif need == "document":
            ids["document_id"] = await harness.upload_document(client, people.a)
        elif need == "chatroom":
            ids["chatroom_id"] = await harness.create_chatroom(client, people.a)
        elif need == "message":
            ids["message_id"] = await harness.send_message(client, people.a, ids["chatroom_id"])
            if ctx.run_jobs is not None:
                await ctx.run_jobs()
        elif need == "payment":
            ids["reference"] = await harness.initiate_payment(client, people.a)
        elif need == "key_id":
            ids["key_id"], _ = await harness.create_key(client, people.a, ["files:read"])
        elif need == "target":
            ids["user_id"], ids["role"] = people.b.id, Role.vendor.value
        elif need == "storage_key":
            ids["key"] = "files/not-signed.txt"
        elif need in MARKETPLACE_NEEDS:
            await MARKETPLACE_NEEDS[need](ctx, ids)
        else:  # pragma: no cover - a typo in the table
            raise AssertionError(f"unknown need {need!r}")
    return ids


async def _headers(ctx: Ctx, row: Row, caller: str) -> dict[str, str]:
    people = ctx.people
    if caller == "anon":
        return {}
    if caller == "key":
        return people.key_all
    if caller == "nokey":
        return await harness.key_without(ctx.client, people, row.scope)
    person: harness.Person = getattr(people, caller)
    return person.headers


async def call(
    client: httpx.AsyncClient,
    people: harness.Principals,
    row: Row,
    caller: str,
    shared: dict[str, str],
    run_jobs: Callable[[], Awaitable[None]] | None = None,
    app: Any = None,
) -> int:
    ctx = Ctx(
        client=client,
        people=people,
        caller=getattr(people, caller, None),
        run_jobs=run_jobs,
        app=app,
    )
    if row.fresh or not shared:
        ids = await _objects(ctx, row)
        if not row.fresh:
            shared.update(ids)
    else:
        ids = dict(shared)
    ctx.ids = ids
    extra = await row.request(ctx) if row.request else {}
    headers = {**(await _headers(ctx, row, caller)), **extra.pop("headers", {})}
    # Another user's object (B's 404) is not only hidden: B's call wrote nothing at all.
    watched = app is not None and caller == "b" and row.b == 404
    before = await harness.table_rows(app) if watched else {}
    response = await client.request(
        row.method, row.path.format(**ids), headers=headers, **extra, follow_redirects=False
    )
    if watched:
        after = await harness.table_rows(app)
        changed = sorted(name for name in after if after[name] != before[name])
        assert not changed, f"{row.id}: B's refused call changed rows of {changed}"
    return response.status_code


PARTS = 3
"""The matrix's rows are proven in this many files (``test_authorization*.py``): a file goes to one
test worker whole, and the matrix was the longest file of the run."""


def part(index: int) -> list[Row]:
    """Every ``PARTS``-th row from ``index``: the parts mix cheap and costly rows alike."""
    return ROWS[index::PARTS]


@dataclasses.dataclass(frozen=True)
class Made:
    """Principals made once through the API, and the rows their making added."""

    people: harness.Principals
    rows: harness.Rows
    at: float


_made: dict[tuple[str, str | None, str], Made] = {}


async def restored(
    app: Any,
    client: httpx.AsyncClient,
    kind: str,
    make: Callable[[], Awaitable[harness.Principals]],
) -> harness.Principals:
    """The principals ``make`` makes (``kind`` names the set) for a test's new database: made through
    the API by the first test of each backend, restored from the rows their making added for the
    next ones (two signups, three logins and an admin: six argon2 runs and seven requests per test).

    The restored database holds exactly the rows the making wrote (``test_restored_principals``),
    and each test has a new app, so no state of one test reaches the next. The tokens are made
    again before a third of their lifetime has passed."""
    settings = app.state.runtime.settings
    key = (app.state.runtime.database.engine.dialect.name, settings.app.secret_key, kind)
    made = _made.get(key)
    lifetime = settings.section(IdentitySettings).access_token_ttl / 3
    if made is None or time.monotonic() - made.at > lifetime:
        before = await harness.dump_rows(app)
        people = await make()
        added = harness.added_rows(before, await harness.dump_rows(app))
        _made[key] = Made(people, added, time.monotonic())
    else:
        await harness.restore_rows(app, made.rows)
    return dataclasses.replace(_made[key].people, keys_without={})


async def check_row(row: Row, app: Any, client: httpx.AsyncClient, jobs: DroppedJobs) -> None:
    """Every caller makes the row's request once; each status must be the matrix's."""
    people = await restored(app, client, "matrix", lambda: harness.principals(app, client))

    async def run_jobs() -> None:
        while jobs.published:
            await execute(str(jobs.published.pop(0)), app.state.runtime)

    wrong, shared = [], dict[str, str]()
    for caller in CALLERS:
        status = await call(client, people, row, caller, shared, run_jobs, app)
        if not matches(row.expected(caller), status):
            wrong.append(f"{caller}: expected {row.expected(caller)}, got {status}")
    assert not wrong, f"{row.id}: " + "; ".join(wrong)
