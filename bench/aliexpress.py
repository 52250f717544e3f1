"""AliExpress import of 500 products × 5 variants × 6 images against the gateway fake, next to the
lower bound the call budget sets.

One run serves :class:`~oja.sandbox.aliexpress.AliExpressFake` over real HTTP on 127.0.0.1 with
``--latency`` seconds on every answer and its own throttle at ``--budget`` calls/s, and makes Oja
in this process (a fresh, migrated database; jobs run in-process as a worker runs them). A vendor
connects through the OAuth flow, posts ``POST /vendors/me/aliexpress/imports`` with every product,
and the import job runs to ``succeeded``: wall time is from the request to the end of the job
(every product read within the budget, written with its variants, price changes, stock
movements, provenance, and its image fetches queued for the files pipeline).

Beside it, in the same run:

* the lower bound: ``products / budget`` seconds — one ``aliexpress.ds.product.get`` a product is
  the least an import can call, and the budget admits no more than ``--budget`` a second;
* a bare baseline: the same reads through the same signed client and budget, writing nothing.

``--fetch-images`` then runs the queued image jobs (download from the fake, store, queue the
image's processing) and reports their time separately: CDN downloads are not API calls, so the
budget does not bound them.

    python bench/aliexpress.py [--products 500] [--variants 5] [--images 6] [--latency 0.2]
        [--budget 5] [--database-url postgresql+asyncpg://…] [--fetch-images]
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":  # keep bench/http.py from shadowing the standard library's `http`
    _bench_dir = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _bench_dir]
    sys.path.insert(0, str(_bench_dir.parent))

import argparse
import asyncio
import tempfile
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import text

from bench.common import machine_line, markdown_table
from oja.core.clock import utcnow
from oja.core.config import Settings
from oja.core.db import read_only, unit_of_work
from oja.core.jobs.runner import execute
from oja.core.migrate import upgrade
from oja.identity import service as identity_service
from oja.identity.config import get_identity_settings
from oja.identity.passwords import get_passwords
from oja.main import create_app
from oja.marketplace.aliexpress import imports, service
from oja.marketplace.aliexpress.config import AliExpressImportSettings
from oja.marketplace.sources.aliexpress.config import AliExpressSettings
from oja.sandbox.aliexpress import (
    DEFAULT_APP_KEY,
    DEFAULT_APP_SECRET,
    FIRST_PRODUCT_ID,
    AliExpressFake,
)
from oja.sandbox.server import SandboxServer

PASSWORD = "bench password 0123"
SECRET = "bench-secret-key-that-is-long-enough-0123456789"
IMPORT_KIND = "marketplace.aliexpress.import"
IMAGE_KIND = "marketplace.product_image.fetch"


async def _signed_in(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def _connected_vendor(app: Any, client: httpx.AsyncClient) -> dict[str, str]:
    boss_email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    async with unit_of_work(app.state.runtime.database) as db:
        await identity_service.create_admin(
            db,
            email=boss_email,
            password=PASSWORD,
            passwords=get_passwords(get_identity_settings()),
        )
    boss = await _signed_in(client, boss_email)
    email = f"vendor-{uuid.uuid4().hex[:8]}@example.com"
    made = await client.post("/auth/signup", json={"email": email, "password": PASSWORD})
    made.raise_for_status()
    owner = await _signed_in(client, email)
    opened = await client.post("/vendors", json={"name": "Bench Imports"}, headers=owner)
    opened.raise_for_status()
    approved = await client.post(f"/admin/vendors/{opened.json()['id']}/approve", headers=boss)
    approved.raise_for_status()
    started = await client.get("/integrations/aliexpress/connect", headers=owner)
    started.raise_for_status()
    async with httpx.AsyncClient() as browser:
        consent = await browser.get(started.json()["authorize_url"])
    back = httpx.URL(consent.headers["location"])
    done = await client.get(back.path, params=dict(back.params))
    done.raise_for_status()
    return owner


async def _bare(settings: Any, runtime: Any, app: Any, ids: list[str]) -> tuple[float, int]:
    """The same reads through the same signed client and budget, nothing written."""
    async with read_only(runtime.database) as db:
        vendor_id = (await db.execute(text("SELECT vendor_id FROM aliexpress_connection"))).scalar()
        token = await service.access_token(
            db, uuid.UUID(str(vendor_id)), secret=SECRET, now=utcnow()
        )
    async with service.client_for(runtime.settings.section(AliExpressSettings)) as client:
        budget = imports.budget_for(runtime, client)
        started = time.perf_counter()
        fetched = await imports.fetch(
            client,
            budget,
            token,
            ids,
            concurrency=runtime.settings.section(
                AliExpressImportSettings
            ).aliexpress_fetch_concurrency,
        )
        elapsed = time.perf_counter() - started
    assert len(fetched.products) == len(ids), fetched.failures
    return elapsed, budget.throttled


async def main(args: argparse.Namespace) -> None:
    fake = AliExpressFake(
        products=args.products,
        variants=args.variants,
        images=args.images,
        latency=args.latency,
        calls_per_second=args.budget,
    )
    published: list[tuple[str, uuid.UUID]] = []

    async def publish(task: str, job_id: uuid.UUID, countdown: float) -> None:
        published.append((task.removeprefix("oja.job."), job_id))

    ids = [str(FIRST_PRODUCT_ID + n) for n in range(args.products)]
    with tempfile.TemporaryDirectory() as folder, SandboxServer(fake.app) as server:
        url = args.database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
        await asyncio.to_thread(upgrade, url)
        settings = Settings(
            env="test",
            secret_key=SECRET,
            var_dir=Path(folder),
            database_url=url,
            log_level="WARNING",
            aliexpress_base_url=server.url,
            aliexpress_authorize_url=server.url + "/oauth/authorize",
            aliexpress_app_key=DEFAULT_APP_KEY,
            aliexpress_app_secret=DEFAULT_APP_SECRET,
            aliexpress_calls_per_second=args.budget,
            aliexpress_import_max_products=max(args.products, 1),
            http_allow_private_hosts=["127.0.0.1"],
        )
        app = create_app(settings, publisher=publish)
        runtime = app.state.runtime
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                owner = await _connected_vendor(app, client)
                bare, bare_throttled = await _bare(settings, runtime, app, ids)
                await asyncio.sleep(1.0)  # let the budget's window empty
                calls_before = len(fake.api_calls())
                started = time.perf_counter()
                accepted = await client.post(
                    "/vendors/me/aliexpress/imports",
                    json={"products": ids, "price_rule": {"multiplier": "1.5", "ending": "0.99"}},
                    headers=owner,
                )
                accepted.raise_for_status()
                (job_id,) = [i for kind, i in published if kind == IMPORT_KIND]
                outcome = await execute(str(job_id), runtime)
                wall = time.perf_counter() - started
                assert outcome == "succeeded", outcome
                detail = await client.get(
                    f"/vendors/me/imports/{accepted.json()['id']}", headers=owner
                )
                report = detail.json()
                assert report["status"] == "succeeded", report
                calls = fake.api_calls()[calls_before:]
                throttled = sum(1 for c in calls if c.outcome == "ApiCallLimit")
                images = [i for kind, i in published if kind == IMAGE_KIND]
                image_seconds = float("nan")
                if args.fetch_images:
                    started = time.perf_counter()
                    for image_job in images:
                        await execute(str(image_job), runtime)
                    image_seconds = time.perf_counter() - started
                async with runtime.database.engine.connect() as conn:
                    counted = {
                        table: (
                            await conn.execute(text(f"SELECT count(*) FROM {table}"))
                        ).scalar_one()
                        for table in (
                            "product",
                            "product_variant",
                            "product_source",
                            "product_image",
                        )
                    }
        finally:
            await runtime.close()
    bound = args.products / args.budget
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(machine_line())
    print(
        f"{args.products} products × {args.variants} variants × {args.images} images, "
        f"{args.latency * 1000:.0f} ms a call, {args.budget} calls/s, {backend}\n"
    )
    print(
        markdown_table(
            ["what", "seconds", "× lower bound", "throttled calls"],
            [
                ["lower bound: products / budget", bound, 1.0, 0],
                [
                    "baseline: bare signed reads within the budget",
                    bare,
                    bare / bound,
                    bare_throttled,
                ],
                ["Oja: POST import → job succeeded", wall, wall / bound, throttled],
            ],
        )
    )
    print(
        f"\ncounts {report['counts']}; rows: {counted}; image fetch jobs queued: {len(images)}"
        + (f", run in {image_seconds:.1f} s" if args.fetch_images else " (not run)")
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=500)
    parser.add_argument("--variants", type=int, default=5)
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--budget", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--fetch-images", action="store_true")
    asyncio.run(main(parser.parse_args()))
