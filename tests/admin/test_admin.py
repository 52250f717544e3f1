"""The operator UI over HTTP: sign-in rules, read-only views, and what each action changes."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from oja.admin.auth import INVALID, NOT_ADMIN, SESSION_COOKIE
from oja.core.jobs import JobStatus
from oja.identity.models import User, UserRole
from tests.admin.conftest import (
    ADMIN_EMAIL,
    BUYER_EMAIL,
    add_api_key,
    add_job,
    get_api_key,
    get_job,
    sign_in,
)
from tests.identity.conftest import make_admin, signup

pytestmark = pytest.mark.usefixtures("admin_user")


async def roles_of(app: Any, email: str) -> list[str]:
    async with app.state.runtime.database.sessionmaker() as db:
        rows = await db.execute(
            select(UserRole.role).join(User, User.id == UserRole.user_id).where(User.email == email)
        )
        return sorted(rows.scalars())


# Sign-in


async def test_login_page_renders_an_email_and_password_form(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin/login")

    assert response.status_code == 200
    assert 'name="email"' in response.text
    assert 'name="password"' in response.text
    assert "Sign in to Oja admin" in response.text


async def test_pages_redirect_to_login_without_a_session(client: httpx.AsyncClient) -> None:
    for path in ("/admin/", "/admin/user/list", "/admin/job/action/retry"):
        response = await client.get(path)
        assert response.status_code == 302, path
        assert response.headers["location"] == "http://testserver/admin/login"


@pytest.mark.parametrize(
    ("email", "password"),
    [(ADMIN_EMAIL, "wrong password"), ("nobody@example.com", "correct horse battery"), ("", "")],
)
async def test_wrong_credentials_are_refused(
    client: httpx.AsyncClient, email: str, password: str
) -> None:
    response = await sign_in(client, email, password)

    assert response.status_code == 400
    assert INVALID in response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert (await client.get("/admin/user/list")).status_code == 302


async def test_a_user_without_the_admin_role_is_refused_with_a_message(
    client: httpx.AsyncClient, buyer: dict[str, Any]
) -> None:
    response = await sign_in(client, BUYER_EMAIL)

    assert response.status_code == 400
    assert NOT_ADMIN in response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert (await client.get("/admin/user/list")).status_code == 302


async def test_admin_signs_in_with_a_strict_http_only_cookie_and_sees_users(
    client: httpx.AsyncClient, buyer: dict[str, Any]
) -> None:
    response = await sign_in(client, ADMIN_EMAIL.upper())

    assert response.status_code == 302
    assert response.headers["location"] == "http://testserver/admin/"
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/admin" in cookie
    assert "secure" not in cookie  # not production

    page = await client.get("/admin/user/list")
    assert page.status_code == 200
    assert ADMIN_EMAIL in page.text
    assert BUYER_EMAIL in page.text
    assert "admin, buyer" in page.text  # the roles column


async def test_repeated_failures_lock_the_account_before_any_hashing(
    client: httpx.AsyncClient, app: Any
) -> None:
    from oja.identity.config import get_identity_settings

    for _ in range(get_identity_settings().login_max_failures):
        await sign_in(client, ADMIN_EMAIL, "wrong password")

    response = await sign_in(client, ADMIN_EMAIL)  # the right password, too late

    assert response.status_code == 400
    assert "Too many failed sign-ins" in response.text


async def test_losing_the_admin_role_ends_the_admin_session(
    admin_client: httpx.AsyncClient, app: Any, admin_user: dict[str, Any]
) -> None:
    second = await make_admin(app, "second@example.com")
    response = await admin_client.get(
        "/admin/user/action/revoke-admin", params={"pks": admin_user["id"]}
    )
    assert response.status_code == 302
    assert await roles_of(app, ADMIN_EMAIL) == ["buyer"]
    assert second["roles"] == ["admin", "buyer"]

    assert (await admin_client.get("/admin/user/list")).status_code == 302


async def test_logout_ends_the_session(admin_client: httpx.AsyncClient) -> None:
    assert (await admin_client.get("/admin/logout")).status_code == 302
    assert (await admin_client.get("/admin/user/list")).status_code == 302


# Views


async def test_users_can_be_searched_by_email_and_mobile(
    admin_client: httpx.AsyncClient, buyer: dict[str, Any]
) -> None:
    await signup(admin_client, mobile="+2348031234567")

    by_email = await admin_client.get("/admin/user/list", params={"search": "buyer@"})
    by_mobile = await admin_client.get("/admin/user/list", params={"search": "803123"})

    assert BUYER_EMAIL in by_email.text
    assert ADMIN_EMAIL not in by_email.text
    assert "+2348031234567" in by_mobile.text
    assert BUYER_EMAIL not in by_mobile.text


async def test_jobs_are_listed_newest_first_and_filter_by_status(
    admin_client: httpx.AsyncClient, app: Any
) -> None:
    from datetime import timedelta

    from oja.core.clock import utcnow

    older = await add_job(app, status=JobStatus.failed, subject_id="older-job")
    newer = await add_job(
        app,
        status=JobStatus.succeeded,
        subject_id="newer-job",
        created_at=utcnow() - timedelta(minutes=1),
    )

    page = (await admin_client.get("/admin/job/list")).text
    failed = (await admin_client.get("/admin/job/list", params={"status": "failed"})).text

    assert page.index(str(newer)) < page.index(str(older))
    for text in ("tests.admin.noop", "RuntimeError: the disk is full", "3/3"):
        assert text in page
    assert str(older) in failed
    assert str(newer) not in failed


@pytest.mark.parametrize("identity", ["user", "api-key", "job", "file"])
async def test_views_are_read_only(
    admin_client: httpx.AsyncClient, identity: str, admin_user: dict[str, Any]
) -> None:
    page = await admin_client.get(f"/admin/{identity}/list")
    assert page.status_code == 200
    assert f"/admin/{identity}/create" not in page.text
    assert f"/admin/{identity}/export" not in page.text

    pk = admin_user["id"]
    assert (await admin_client.get(f"/admin/{identity}/create")).status_code == 403
    assert (await admin_client.post(f"/admin/{identity}/create", data={})).status_code == 403
    assert (await admin_client.post(f"/admin/{identity}/edit/{pk}", data={})).status_code == 403
    assert (await admin_client.delete(f"/admin/{identity}/delete?pks={pk}")).status_code == 403
    assert (await admin_client.get(f"/admin/{identity}/export/csv")).status_code == 403


async def test_no_admin_page_ever_shows_a_password_or_key_hash(
    admin_client: httpx.AsyncClient, app: Any, admin_user: dict[str, Any]
) -> None:
    key_hash = "f" * 64
    key_id = await add_api_key(app, admin_user["id"], name="ci", key_hash=key_hash)
    job_id = await add_job(app, status=JobStatus.failed)
    async with app.state.runtime.database.sessionmaker() as db:
        password_hash = (
            await db.execute(select(User.password_hash).where(User.email == ADMIN_EMAIL))
        ).scalar_one()
    assert password_hash.startswith("$argon2")

    pages = [
        "/admin/",
        "/admin/user/list",
        f"/admin/user/details/{admin_user['id']}",
        "/admin/api-key/list",
        f"/admin/api-key/details/{key_id}",
        "/admin/job/list",
        f"/admin/job/details/{job_id}",
        "/admin/file/list",
    ]
    for path in pages:
        response = await admin_client.get(path)
        assert response.status_code == 200, path
        assert "$argon2" not in response.text, path
        assert password_hash not in response.text, path
        assert key_hash not in response.text, path
        assert "password_hash" not in response.text.lower().replace(" ", "_"), path
    assert (
        "admin, buyer" in (await admin_client.get(f"/admin/user/details/{admin_user['id']}")).text
    )


# Actions


async def test_retry_requeues_a_failed_job_with_a_fresh_budget_and_publishes_it_once(
    admin_client: httpx.AsyncClient, app: Any, publications: list[Any]
) -> None:
    failed = await add_job(app, status=JobStatus.failed)
    done = await add_job(app, status=JobStatus.succeeded)

    response = await admin_client.get("/admin/job/action/retry", params={"pks": f"{failed},{done}"})

    assert response.status_code == 302
    assert response.headers["location"] == "http://testserver/admin/job/list"
    retried = await get_job(app, failed)
    assert retried.status == JobStatus.queued
    assert retried.attempts == 0
    assert retried.progress == 0
    assert retried.finished_at is None
    assert retried.last_error == "RuntimeError: the disk is full"  # kept until the next attempt
    untouched = await get_job(app, done)
    assert (untouched.status, untouched.attempts) == (JobStatus.succeeded, 3)
    assert publications == [("oja.job.tests.admin.noop", failed, 0.0)]
    page = await admin_client.get(response.headers["location"])
    assert "Re-queued 1 of 2 selected job(s). Only failed jobs can be retried." in page.text


async def test_retry_of_a_job_that_is_not_failed_changes_and_publishes_nothing(
    admin_client: httpx.AsyncClient, app: Any, publications: list[Any]
) -> None:
    running = await add_job(app, status=JobStatus.running, attempts=1)

    await admin_client.get("/admin/job/action/retry", params={"pks": str(running)})

    row = await get_job(app, running)
    assert (row.status, row.attempts) == (JobStatus.running, 1)
    assert publications == []


async def test_an_action_started_by_another_site_is_refused(
    admin_client: httpx.AsyncClient, app: Any, publications: list[Any]
) -> None:
    failed = await add_job(app, status=JobStatus.failed)

    response = await admin_client.get(
        "/admin/job/action/retry",
        params={"pks": str(failed)},
        headers={"Sec-Fetch-Site": "cross-site"},
    )

    assert response.status_code == 403
    assert (await get_job(app, failed)).status == JobStatus.failed
    assert publications == []


async def test_a_malformed_selection_is_a_400(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.get("/admin/job/action/retry", params={"pks": "not-a-uuid"})
    assert response.status_code == 400


async def test_revoke_sets_revoked_at_once(
    admin_client: httpx.AsyncClient, app: Any, admin_user: dict[str, Any]
) -> None:
    key = await add_api_key(app, admin_user["id"], name="ci", key_hash="a" * 64)
    other = await add_api_key(app, admin_user["id"], name="kept", key_hash="b" * 64)

    response = await admin_client.get("/admin/api-key/action/revoke", params={"pks": str(key)})

    assert response.status_code == 302
    revoked_at = (await get_api_key(app, key)).revoked_at
    assert revoked_at is not None
    assert (await get_api_key(app, other)).revoked_at is None

    await admin_client.get("/admin/api-key/action/revoke", params={"pks": str(key)})
    assert (await get_api_key(app, key)).revoked_at == revoked_at


async def test_roles_are_granted_and_revoked(
    admin_client: httpx.AsyncClient, app: Any, buyer: dict[str, Any]
) -> None:
    pks = {"pks": buyer["id"]}

    await admin_client.get("/admin/user/action/grant-vendor", params=pks)
    assert await roles_of(app, BUYER_EMAIL) == ["buyer", "vendor"]

    await admin_client.get("/admin/user/action/revoke-buyer", params=pks)
    assert await roles_of(app, BUYER_EMAIL) == ["vendor"]


async def test_the_last_admin_keeps_the_role_and_the_operator_is_told_why(
    admin_client: httpx.AsyncClient, app: Any, admin_user: dict[str, Any]
) -> None:
    response = await admin_client.get(
        "/admin/user/action/revoke-admin", params={"pks": admin_user["id"]}
    )

    assert response.status_code == 302
    assert await roles_of(app, ADMIN_EMAIL) == ["admin", "buyer"]
    page = await admin_client.get(response.headers["location"])
    assert "The last admin cannot lose the admin role." in page.text


async def test_a_role_change_for_an_unknown_user_changes_nothing(
    admin_client: httpx.AsyncClient, app: Any, buyer: dict[str, Any]
) -> None:
    pks = {"pks": f"{buyer['id']},{uuid.uuid4()}"}

    await admin_client.get("/admin/user/action/grant-vendor", params=pks)

    assert await roles_of(app, BUYER_EMAIL) == ["buyer"]


async def test_in_production_the_admin_cookie_is_secure(tmp_path: Any, database_url: str) -> None:
    from oja.main import create_app
    from tests.conftest import TEST_SECRET, make_settings

    app = create_app(
        make_settings(tmp_path, database_url, env="production", secret_key=TEST_SECRET)
    )
    try:
        await make_admin(app, "prod-admin@example.com")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://oja.example") as c:
            response = await sign_in(c, "prod-admin@example.com")
        assert response.status_code == 302
        assert "secure" in response.headers["set-cookie"].lower()
    finally:
        await app.state.runtime.close()


# Business views


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/admin/document/list", "Documents"),
        ("/admin/payment/list", "Payments"),
        ("/admin/webhook-event/list", "Webhook events"),
        ("/admin/subscription/list", "Subscriptions"),
        ("/admin/chatroom/list", "Chatrooms"),
    ],
)
async def test_business_views_list(
    admin_client: httpx.AsyncClient, path: str, heading: str
) -> None:
    response = await admin_client.get(path)
    assert response.status_code == 200
    assert heading in response.text


async def test_replay_queues_one_processing_job_per_stored_event(
    admin_client: httpx.AsyncClient, app: Any, publications: list[Any]
) -> None:
    from oja.billing.models import WebhookEvent
    from oja.core.jobs.models import Job

    event_id = uuid.uuid4()
    async with app.state.runtime.database.sessionmaker() as session:
        session.add(
            WebhookEvent(
                id=event_id,
                provider="paystack",
                event_id="charge.success:42",
                event_type="charge.success",
                payload={"event": "charge.success", "data": {"reference": "ref-42"}},
                status="processed",
            )
        )
        await session.commit()
    unknown = uuid.uuid4()

    response = await admin_client.get(
        "/admin/webhook-event/action/replay", params={"pks": f"{event_id},{unknown}"}
    )

    assert response.status_code == 302
    async with app.state.runtime.database.sessionmaker() as session:
        jobs = (await session.execute(select(Job))).scalars().all()
    assert [(j.kind, j.payload) for j in jobs] == [
        ("billing.process_webhook_event", {"event_id": str(event_id)})
    ]
    assert publications == [("oja.job.billing.process_webhook_event", jobs[0].id, 0.0)]
    page = await admin_client.get(response.headers["location"])
    assert "Queued 1 of 2 selected event(s) for processing." in page.text
