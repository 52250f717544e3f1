"""The admin in a real browser: Oja under uvicorn, driven by headless Chromium through Selenium.

Skipped only where Chromium is missing and services are not required (``OJA_TEST_REQUIRE_SERVICES``
makes it a failure, as under ``.ci/run``). Leaves ``test-artifacts/admin-jobs.png`` behind, and one
``test-artifacts/admin-<page>.png`` for each marketplace page (:data:`MARKETPLACE_PAGES`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from oja.core.clock import utcnow
from oja.core.db import Database, unit_of_work
from oja.core.jobs import Job, JobStatus
from oja.identity import service
from oja.identity.config import get_identity_settings
from oja.identity.passwords import get_passwords
from tests.conftest import TEST_SECRET
from tests.identity.conftest import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "test-artifacts" / "admin-jobs.png"
ADMIN_EMAIL = "browser-admin@example.com"
TIMEOUT = 20
STARTUP = 120
"""Seconds for uvicorn to answer: importing Oja alone took 18 s on a loaded two-core machine."""


def _require_browser() -> None:
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    if os.environ.get("OJA_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{CHROMIUM} and {CHROMEDRIVER} are required (OJA_TEST_REQUIRE_SERVICES=1)")
    pytest.skip("Chromium is not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _seed(url: str) -> uuid.UUID:
    """An admin, and a job that failed for good."""
    database = Database(url)
    try:
        async with unit_of_work(database) as db:
            await service.create_admin(
                db,
                email=ADMIN_EMAIL,
                password=PASSWORD,
                passwords=get_passwords(get_identity_settings()),
            )
            now = utcnow()
            row = Job(
                kind="files.process",
                payload={"file_id": str(uuid.uuid4())},
                status=JobStatus.failed,
                attempts=3,
                max_attempts=3,
                progress=60,
                message="ValueError: the image is truncated",
                last_error="ValueError: the image is truncated",
                subject_type="file",
                created_at=now - timedelta(minutes=3),
                updated_at=now,
                finished_at=now,
            )
            db.add(row)
        return row.id
    finally:
        await database.dispose()


async def _job(url: str, job_id: uuid.UUID) -> Job:
    database = Database(url)
    try:
        async with database.sessionmaker() as db:
            row = await db.get(Job, job_id)
            assert row is not None
            return row
    finally:
        await database.dispose()


@pytest.fixture
def server(tmp_path: Path, sqlite_template: Path) -> Iterator[dict[str, Any]]:
    """Oja in its own uvicorn process on a free port, over a migrated SQLite file."""
    _require_browser()
    database_path = tmp_path / "oja.db"
    shutil.copy(sqlite_template, database_path)
    url = f"sqlite+aiosqlite:///{database_path}"
    job_id = asyncio.run(_seed(url))
    port = _free_port()
    env = {
        **os.environ,
        "OJA_ENV": "test",
        "OJA_SECRET_KEY": TEST_SECRET,
        "OJA_VAR_DIR": str(tmp_path / "var"),
        "OJA_DATABASE_URL": url,
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "oja.main:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    log = (tmp_path / "server.log").open("wb")
    # cwd: a folder without a developer's .env
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP
        while True:
            if process.poll() is not None:
                pytest.fail((tmp_path / "server.log").read_text())
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("Oja did not start:\n" + (tmp_path / "server.log").read_text())
            time.sleep(0.1)
        yield {"base": base, "url": url, "job_id": job_id, "queue": tmp_path / "var" / "queue"}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1500,900",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(argument)
    # An explicit driver path: Selenium Manager must not download anything.
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()


def _published_job_ids(queue: Path) -> list[str]:
    """Job ids in the messages waiting in the filesystem broker (Celery protocol 2 bodies)."""
    ids = []
    for path in sorted((queue / "messages").glob("*.msg")):
        message = json.loads(path.read_text())
        args, _, _ = json.loads(base64.b64decode(message["body"]))
        ids.extend(args)
    return ids


def test_an_operator_signs_in_sees_users_and_retries_a_failed_job(
    server: dict[str, Any], browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, TIMEOUT)
    base, job_id = server["base"], server["job_id"]

    browser.get(f"{base}/admin/login")
    browser.find_element(By.ID, "email").send_keys(ADMIN_EMAIL)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(ec.url_to_be(f"{base}/admin/"))

    browser.get(f"{base}/admin/user/list")
    table = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "table tbody")))
    assert ADMIN_EMAIL in table.text
    assert "admin, buyer" in table.text

    browser.get(f"{base}/admin/job/list")
    row_box = wait.until(
        ec.element_to_be_clickable(
            (
                By.XPATH,
                f"//input[@type='hidden' and @value='{job_id}']"
                "/following-sibling::input[contains(@class, 'select-box')]",
            )
        )
    )
    assert "ValueError: the image is truncated" in browser.find_element(By.TAG_NAME, "tbody").text
    row_box.click()
    browser.find_element(By.ID, "dropdownMenuButton").click()
    wait.until(ec.element_to_be_clickable((By.ID, "action-custom-retry"))).click()
    toast = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".toast .toast-body")))
    assert toast.text == "Re-queued 1 of 1 selected job(s)."
    assert "queued" in browser.find_element(By.TAG_NAME, "tbody").text

    SCREENSHOT.parent.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))

    row = asyncio.run(_job(server["url"], job_id))
    assert (row.status, row.attempts, row.finished_at) == (JobStatus.queued, 0, None)
    assert _published_job_ids(server["queue"]) == [str(job_id)]


MARKETPLACE_PAGES = {
    "vendors": "/admin/vendor/list",
    "products": "/admin/product/list",
    "store-orders": "/admin/store-order/list",
    "returns": "/admin/return-request/list",
    "refunds": "/admin/order-refund/list",
    "reviews": "/admin/review/list",
    "store-plans": "/admin/store-plan/list",
    "notification-templates": "/admin/notifications/templates",
    "failed-deliveries": "/admin/notification-delivery/list",
}
"""Each marketplace page, and the screenshot it leaves: ``test-artifacts/admin-<key>.png``."""


async def _seed_marketplace(url: str) -> dict[str, uuid.UUID]:
    """Two pending stores (one to approve, one to approve then suspend) with an owner each, a
    delivered order with its history, a return and a failed refund, a review held by screening, a
    failed SMS delivery and a paid plan."""
    from oja.identity.models import User
    from oja.marketplace.plans.models import VendorSubscription
    from oja.marketplace.vendors.models import Vendor, VendorMember
    from tests.admin.marketplace_kit import add_delivery, add_order, add_product, add_review

    database = Database(url)
    try:
        async with unit_of_work(database) as db:
            buyer = User(email="browser-buyer@example.com", name="Bisi Buyer")
            owners = [User(email=f"owner{i}@example.com") for i in range(2)]
            db.add_all([buyer, *owners])
            await db.flush()
            stores = [
                Vendor(name="Adire Atelier", slug="adire-atelier", status="pending"),
                Vendor(name="Kente Corner", slug="kente-corner", status="pending"),
            ]
            db.add_all(stores)
            await db.flush()
            for vendor, owner in zip(stores, owners, strict=True):
                db.add(VendorMember(vendor_id=vendor.id, user_id=owner.id, role="owner"))
            db.add(VendorSubscription(vendor_id=stores[1].id, plan="vendor_premium_monthly"))
        first, second = stores[0].id, stores[1].id
        await add_product(database, first, "Indigo adire scarf")
        ids = await add_order(database, first, str(buyer.id), refund=1250050)
        review = await add_review(database, first, str(buyer.id), "Lovely dye, slow courier")
        await add_delivery(database, str(buyer.id), "failed", "+2348030000009")
        return {"approve": first, "suspend": second, "order": ids["order"], "review": review}
    finally:
        await database.dispose()


async def _status_of(url: str, model: Any, pk: uuid.UUID) -> str:
    database = Database(url)
    try:
        async with database.sessionmaker() as db:
            row = await db.get(model, pk)
            assert row is not None
            return str(row.status)
    finally:
        await database.dispose()


def _shoot(browser: Any, key: str) -> None:
    path = ROOT / "test-artifacts" / f"admin-{key}.png"
    path.parent.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(path))


def sign_in(browser: Any, base: str) -> None:
    """The seeded admin signs in to ``/admin``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{base}/admin/login")
    browser.find_element(By.ID, "email").send_keys(ADMIN_EMAIL)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, TIMEOUT).until(ec.url_to_be(f"{base}/admin/"))


def select_list_row(browser: Any, pk: uuid.UUID) -> None:
    """Tick row ``pk`` of the list shown and open the actions menu."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, TIMEOUT).until(
        ec.element_to_be_clickable(
            (
                By.XPATH,
                f"//input[@type='hidden' and @value='{pk}']"
                "/following-sibling::input[contains(@class, 'select-box')]",
            )
        )
    ).click()
    browser.find_element(By.ID, "dropdownMenuButton").click()


def shown_toast(browser: Any) -> str:
    """The text of the outcome toast the page shows."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    found = WebDriverWait(browser, TIMEOUT).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, ".toast .toast-body"))
    )
    return str(found.text)


def test_an_operator_runs_the_marketplace_from_the_admin(
    server: dict[str, Any], browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from oja.marketplace.reviews.models import Review
    from oja.marketplace.vendors.models import Vendor

    wait = WebDriverWait(browser, TIMEOUT)
    base = server["base"]
    ids = asyncio.run(_seed_marketplace(server["url"]))
    sign_in(browser, base)

    # Approve both stores: the action asks for confirmation first.
    for pk in (ids["approve"], ids["suspend"]):
        browser.get(f"{base}/admin/vendor/list")
        select_list_row(browser, pk)
        wait.until(ec.element_to_be_clickable((By.ID, "action-customconfirm-approve"))).click()
        wait.until(ec.element_to_be_clickable((By.ID, "action-custom-modal-approve"))).click()
        assert shown_toast(browser) == "Approved 1 of 1 selected."
    assert asyncio.run(_status_of(server["url"], Vendor, ids["approve"])) == "approved"

    # Suspend one: the action opens a form for the reason.
    select_list_row(browser, ids["suspend"])
    wait.until(ec.element_to_be_clickable((By.ID, "action-custom-suspend"))).click()
    wait.until(ec.presence_of_element_located((By.ID, "reason"))).send_keys("Fake kente.")
    _shoot(browser, "vendor-suspend")
    browser.find_element(By.ID, "reason-submit").click()
    assert shown_toast(browser) == "Suspended 1 of 1 selected."
    assert asyncio.run(_status_of(server["url"], Vendor, ids["suspend"])) == "suspended"

    # Publish the held review, with a reason.
    browser.get(f"{base}/admin/review/list")
    select_list_row(browser, ids["review"])
    wait.until(ec.element_to_be_clickable((By.ID, "action-custom-publish"))).click()
    wait.until(ec.presence_of_element_located((By.ID, "reason"))).send_keys("Honest review.")
    browser.find_element(By.ID, "reason-submit").click()
    assert shown_toast(browser) == "Published 1 of 1 selected."
    assert asyncio.run(_status_of(server["url"], Review, ids["review"])) == "published"

    # An order's history, in order.
    browser.get(f"{base}/admin/store-order/details/{ids['order']}")
    history = wait.until(ec.presence_of_element_located((By.ID, "order-history"))).text
    assert [row.split()[2] for row in history.splitlines()[1:]] == [
        "—",
        "pending",
        "confirmed",
        "shipped",
    ]
    _shoot(browser, "store-order-details")

    # A template override: a refused one is shown back, a good one previews and saves.
    browser.get(f"{base}/admin/notifications/templates/order.shipped/sms")
    body = wait.until(ec.presence_of_element_located((By.ID, "body")))
    body.clear()
    body.send_keys("{{ ''.__class__ }}")
    browser.find_element(By.ID, "template-save").click()
    problem = wait.until(ec.presence_of_element_located((By.ID, "template-problem")))
    assert "The template was refused" in problem.text
    body = browser.find_element(By.ID, "body")
    body.clear()
    body.send_keys("Order {{ order_number }} shipped.")
    browser.find_element(By.ID, "template-save").click()
    wait.until(ec.presence_of_element_located((By.ID, "template-saved")))
    assert "Order OJA-10042 shipped." in browser.find_element(By.ID, "template-rendered").text
    _shoot(browser, "notification-template")

    for key, path in MARKETPLACE_PAGES.items():
        browser.get(f"{base}{path}")
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "table tbody")))
        _shoot(browser, key)
    deliveries = browser.find_element(By.TAG_NAME, "tbody").text  # the last page
    assert "+2348030000009" in deliveries
    browser.get(f"{base}/admin/store-plan/list")
    plans = wait.until(ec.presence_of_element_located((By.TAG_NAME, "tbody"))).text
    assert "vendor_premium_monthly" in plans
    assert "Kente Corner" in plans
