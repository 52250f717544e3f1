"""The traffic limit on the hot path: ``GET /products/{id}`` by a signed-in buyer already counted
this period, with the check and without it (the same route, the same app, the check replaced by a
no-op), in one run.

With Redis, the check of a counted user is one round trip: the store's plan and limit come from
the process's cache (``OJA_VENDOR_PLAN_CACHE_SECONDS``), and one pipeline reads the user's place
and the store's plan version (which drops a stale cache entry). Without Redis it is one indexed
read of ``store_visitor`` (the plan cached the same way).

The app runs in this process (httpx's ASGI transport, one request at a time) on a fresh, migrated
database — SQLite in a temporary folder, or ``--database-url`` — with ``--redis`` behind the
traffic sets when given. Rounds interleave (with, without, without, with …); the table shows p50 and
p99 of each and the p50 the check adds.

    python bench/plans.py [--requests 300] [--rounds 4] [--redis redis://127.0.0.1:6379/0]
                          [--database-url postgresql+asyncpg://…]
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    _bench_dir = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _bench_dir]
    sys.path.insert(0, str(_bench_dir.parent))

import argparse
import asyncio
import subprocess
import tempfile
import time
import uuid
from typing import Any

import httpx

from bench.common import bench_env, machine_line, markdown_table, percentile

PASSWORD = "bench password 0123"
SECRET = "bench-secret-key-that-is-long-enough-0123456789"


async def _person(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    created = await client.post("/auth/signup", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def _timed(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], n: int
) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        response = await client.get(url, headers=headers)
        out.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response.text
    return out


async def run(args: argparse.Namespace, folder: Path) -> None:
    from oja.core.config import Settings
    from oja.core.db import unit_of_work
    from oja.identity import service as identity_service
    from oja.identity.config import get_identity_settings
    from oja.identity.passwords import get_passwords
    from oja.main import create_app
    from oja.marketplace.catalog import service as catalog_service
    from oja.marketplace.plans import service as plans_service

    database_url = args.database_url or f"sqlite+aiosqlite:///{folder / 'oja.db'}"
    fields: dict[str, Any] = {
        "env": "test",
        "secret_key": SECRET,
        "var_dir": folder / "var",
        "database_url": database_url,
        "log_level": "WARNING",
        "free_tier_users": 1000,
    }
    if args.redis:
        fields["redis_url"] = args.redis
    subprocess.run(
        [str(Path(sys.executable).parent / "oja"), "migrate"],
        env=bench_env(OJA_DATABASE_URL=database_url, OJA_VAR_DIR=str(folder / "var")),
        check=True,
        capture_output=True,
    )
    app = create_app(Settings(**fields))
    transport = httpx.ASGITransport(app=app)
    real_admit = catalog_service.plans.admit

    async def no_check(*_args: Any, **_kwargs: Any) -> None:
        return None

    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            tag = uuid.uuid4().hex[:8]
            admin_email = f"admin-{tag}@example.com"
            async with unit_of_work(app.state.runtime.database) as db:
                await identity_service.create_admin(
                    db,
                    email=admin_email,
                    password=PASSWORD,
                    passwords=get_passwords(get_identity_settings()),
                )
            login = await client.post(
                "/auth/login", json={"email": admin_email, "password": PASSWORD}
            )
            boss = {"Authorization": f"Bearer {login.json()['access_token']}"}
            owner = await _person(client, f"owner-{tag}@example.com")
            store = await client.post("/vendors", json={"name": "Bench"}, headers=owner)
            approved = await client.post(
                f"/admin/vendors/{store.json()['id']}/approve", headers=boss
            )
            assert approved.status_code == 200, approved.text
            product = await client.post(
                "/products",
                json={
                    "title": "Bench product",
                    "status": "active",
                    "variants": [{"sku": "B-1", "price": 1000, "stock": 5}],
                },
                headers=owner,
            )
            assert product.status_code == 201, product.text
            url = f"/products/{product.json()['id']}"
            buyer = await _person(client, f"buyer-{tag}@example.com")
            await _timed(client, url, buyer, 50)  # counted once; warm-up
            cache = plans_service._cache(app.state.runtime)
            ttl = cache.ttl
            samples: dict[str, list[float]] = {"with": [], "uncached": [], "without": []}
            kinds = list(samples)
            for index in range(args.rounds):
                order = kinds[index % 3 :] + kinds[: index % 3]
                for kind in order:
                    catalog_service.plans.admit = no_check if kind == "without" else real_admit  # type: ignore[method-assign]
                    # "uncached": the plan read from the database on every check (as before the
                    # per-process cache), the user's place from Redis.
                    cache.ttl = 0 if kind == "uncached" else ttl
                    cache.forget(uuid.UUID(store.json()["id"]))
                    await _timed(client, url, buyer, 5)  # settle the cache for this kind
                    samples[kind].extend(await _timed(client, url, buyer, args.requests))
            catalog_service.plans.admit = real_admit  # type: ignore[method-assign]
            cache.ttl = ttl
            with_check, uncached, without = (samples[k] for k in kinds)
    finally:
        await app.state.runtime.close()
    backend = "Redis" if args.redis else "database"
    rows = [
        [
            "GET /products/{id}, no traffic check",
            len(without),
            f"{percentile(without, 50):.2f}",
            f"{percentile(without, 99):.2f}",
        ],
        [
            f"GET /products/{{id}}, traffic check ({backend}), plan read every time",
            len(uncached),
            f"{percentile(uncached, 50):.2f}",
            f"{percentile(uncached, 99):.2f}",
        ],
        [
            f"GET /products/{{id}}, traffic check ({backend}), plan cached",
            len(with_check),
            f"{percentile(with_check, 50):.2f}",
            f"{percentile(with_check, 99):.2f}",
        ],
    ]
    print(machine_line())
    print(f"database: {database_url.split('://')[0]}, traffic sets: {backend}")
    print(markdown_table(["request", "n", "p50 ms", "p99 ms"], rows))
    added = percentile(with_check, 50) - percentile(without, 50)
    before = percentile(uncached, 50) - percentile(without, 50)
    print(f"p50 added by the check: {added:.2f} ms (plan read every time: {before:.2f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--redis", default=None)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(args, Path(folder)))


if __name__ == "__main__":
    main()
