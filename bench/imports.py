"""Bulk import of 100,000 rows on PostgreSQL: Oja's endpoint + job next to a bare COPY of the rows.

One run makes a fresh PostgreSQL database, migrates it, and starts Oja's API (uvicorn) and one
worker (``oja worker --concurrency 1``, filesystem broker) as subprocesses on 127.0.0.1. It writes a
CSV of ``--rows`` variants (two per product, a category, options, attributes, stock), uploads it
to ``POST /vendors/me/imports`` and polls the import until it ends: rows/s is counted from the
upload to ``succeeded``. The same file is then imported again (every row ``unchanged``). Peak RSS
growth is that of the worker's whole process tree (Celery's parent and its pool child) while the
import runs, over its resident memory just before.

Beside it, in the same run and database, the baselines write the same rows into the same tables
(product, product_handle, product_variant, price_change, stock_movement) for other stores: read
the CSV with the ``csv`` module and ``COPY`` them with asyncpg's ``copy_records_to_table``, then the
same with ``executemany`` INSERTs. They check nothing and report nothing: the floor, not a rival.

    python bench/imports.py [--rows 100000] [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]
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
import contextlib
import csv
import os
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from bench.common import (
    bench_env,
    machine_line,
    markdown_table,
    start_process,
    stop_process,
    uvicorn_server,
)
from bench.http import load_average
from bench.upload import MB, PASSWORD, SECRET, rss_bytes

HEADER = [
    "title",
    "description",
    "sku",
    "price",
    "currency",
    "stock",
    "status",
    "category",
    "options",
    "handle",
    "weight_grams",
    "attributes",
]
POLL_SECONDS = 0.5
TIMEOUT_SECONDS = 900.0


def write_csv(path: Path, rows: int, category: str) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for i in range(rows):
            product = i // 2
            writer.writerow(
                [
                    f"Product {product}",
                    "Generated for the import benchmark",
                    f"SKU-{i:07d}",
                    1000 + i % 5000,
                    "NGN",
                    i % 50,
                    "active",
                    category,
                    f"size={'SM'[i % 2]}",
                    f"p-{product}",
                    100 + i % 900,
                    "brand=Oja",
                ]
            )


def tree_pids(root: int) -> list[int]:
    """``root`` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue.extend(children.get(pid, []))
    return found


def tree_rss(root: int) -> int:
    total = 0
    for pid in tree_pids(root):
        with contextlib.suppress(OSError):  # a process that has just exited
            total += rss_bytes(pid)
    return total


class TreeRss:
    """Peak resident memory of a process tree, sampled every 20 ms in a thread."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.baseline = tree_rss(root)
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.root))
            time.sleep(0.02)

    def stop(self) -> float:
        """Stop sampling; the growth in MB."""
        self._stop.set()
        self._thread.join()
        return (self.peak - self.baseline) / MB


# Oja through its API


async def signed_in(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def new_user(client: httpx.AsyncClient, prefix: str) -> str:
    """A new user's email (its password is ``PASSWORD``)."""
    email = f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"
    made = await client.post("/auth/signup", json={"email": email, "password": PASSWORD})
    made.raise_for_status()
    return email


async def admin_headers(client: httpx.AsyncClient, database_url: str) -> dict[str, str]:
    from oja.core.db import Database, unit_of_work
    from oja.identity import service as identity_service
    from oja.identity.config import get_identity_settings
    from oja.identity.passwords import get_passwords

    email = f"admin-{uuid.uuid4().hex[:12]}@example.com"
    database = Database(database_url)
    try:
        async with unit_of_work(database) as db:
            await identity_service.create_admin(
                db,
                email=email,
                password=PASSWORD,
                passwords=get_passwords(get_identity_settings()),
            )
    finally:
        await database.dispose()
    return await signed_in(client, email)


async def store(client: httpx.AsyncClient, boss: dict[str, str], name: str) -> tuple[Any, ...]:
    email = await new_user(client, "vendor")
    owner = await signed_in(client, email)
    opened = await client.post("/vendors", json={"name": name}, headers=owner)
    opened.raise_for_status()
    approved = await client.post(f"/admin/vendors/{opened.json()['id']}/approve", headers=boss)
    approved.raise_for_status()
    return email, uuid.UUID(opened.json()["id"])


async def import_file(
    client: httpx.AsyncClient, email: str, path: Path, worker_pid: int
) -> tuple[float, float, dict[str, Any]]:
    """Upload and wait for the end: (seconds, worker RSS growth MB, final import). The owner signs
    in again when the access token expires: an import can outlast it (issue 18: a 100,000-row
    import took 11 minutes on a loaded machine, and the next poll answered 401)."""
    owner = await signed_in(client, email)
    sampler = TreeRss(worker_pid)
    started = time.perf_counter()
    with path.open("rb") as body:
        accepted = await client.post(
            "/vendors/me/imports",
            files={"file": (path.name, body, "text/csv")},
            headers=owner,
        )
    accepted.raise_for_status()
    deadline = started + TIMEOUT_SECONDS
    while True:
        report = await client.get(f"/vendors/me/imports/{accepted.json()['id']}", headers=owner)
        if report.status_code == httpx.codes.UNAUTHORIZED:
            owner = await signed_in(client, email)
            continue
        report.raise_for_status()
        if report.json()["status"] in ("succeeded", "failed"):
            break
        if time.perf_counter() > deadline:
            raise TimeoutError("the import did not end in time")
        await asyncio.sleep(POLL_SECONDS)
    elapsed = time.perf_counter() - started
    return elapsed, sampler.stop(), dict(report.json())


# The baselines: the same rows, straight into the tables


def baseline_rows(
    path: Path, vendor_id: uuid.UUID, category_id: uuid.UUID
) -> dict[str, list[tuple[Any, ...]]]:
    now = datetime.now(UTC)
    products: dict[str, uuid.UUID] = {}
    tables: dict[str, list[tuple[Any, ...]]] = {
        "product": [],
        "product_handle": [],
        "product_variant": [],
        "price_change": [],
        "stock_movement": [],
    }
    with path.open(newline="") as text:
        reader = csv.DictReader(text)
        for row in reader:
            handle = row["handle"]
            product_id = products.get(handle)
            if product_id is None:
                product_id = products[handle] = uuid.uuid4()
                tables["product"].append(
                    (product_id, vendor_id, row["title"], row["description"], category_id,
                     '{"brand": "Oja"}', row["status"], now, now)
                )  # fmt: skip
                tables["product_handle"].append((uuid.uuid4(), vendor_id, handle, product_id, now))
            variant_id = uuid.uuid4()
            size = row["options"].split("=")[1]
            price, stock = int(row["price"]), int(row["stock"])
            tables["product_variant"].append(
                (variant_id, vendor_id, product_id, row["sku"], f'{{"size": "{size}"}}', price,
                 "NGN", None, stock, 5, int(row["weight_grams"]), now, now)
            )  # fmt: skip
            tables["price_change"].append(
                (uuid.uuid4(), vendor_id, product_id, variant_id, None, None, price, None, None,
                 "NGN", now)
            )  # fmt: skip
            if stock:
                tables["stock_movement"].append(
                    (uuid.uuid4(), vendor_id, variant_id, None, "import", 0, stock, stock, now)
                )
    return tables


COLUMNS = {
    "product": (
        "id", "vendor_id", "title", "description", "category_id", "attributes", "status",
        "created_at", "updated_at",
    ),
    "product_handle": ("id", "vendor_id", "handle", "product_id", "created_at"),
    "product_variant": (
        "id", "vendor_id", "product_id", "sku", "options", "price", "currency",
        "compare_at_price", "stock", "low_stock_threshold", "weight_grams", "created_at",
        "updated_at",
    ),
    "price_change": (
        "id", "vendor_id", "product_id", "variant_id", "actor_id", "old_price", "new_price",
        "old_compare_at_price", "new_compare_at_price", "currency", "created_at",
    ),
    "stock_movement": (
        "id", "vendor_id", "variant_id", "actor_id", "reason", "stock_before", "stock_after",
        "delta", "created_at",
    ),
}  # fmt: skip


async def bare_load(
    dsn: str, path: Path, vendor_id: uuid.UUID, category_id: uuid.UUID, *, copy: bool
) -> float:
    """Read the CSV and write its rows in one transaction; seconds taken."""
    connection = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        tables = baseline_rows(path, vendor_id, category_id)
        async with connection.transaction():
            for table, records in tables.items():
                columns = COLUMNS[table]
                if copy:
                    await connection.copy_records_to_table(
                        table, records=records, columns=list(columns)
                    )
                else:
                    names = ", ".join(columns)
                    marks = ", ".join(f"${i + 1}" for i in range(len(columns)))
                    await connection.executemany(
                        f"INSERT INTO {table} ({names}) VALUES ({marks})",
                        records,
                    )
        return time.perf_counter() - started
    finally:
        await connection.close()


# Driving


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the server of ``server_url``; dropped afterwards."""
    name = f"oja_bench_imports_{uuid.uuid4().hex[:8]}"
    parts = urlsplit(server_url)

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(server_url)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def worker_ready(heartbeat: Path) -> None:
    """Wait for the worker's first heartbeat (it consumes), then a little for it to settle."""
    deadline = time.monotonic() + 120
    while not heartbeat.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the worker did not start within 120 s")
        await asyncio.sleep(0.2)
    await asyncio.sleep(2)


async def scenario(
    base: str, database_url: str, dsn: str, folder: Path, rows: int, worker_pid: int
) -> list[list[object]]:
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        boss = await admin_headers(client, database_url)
        made = await client.post("/categories", json={"name": "Bench goods"}, headers=boss)
        made.raise_for_status()
        category_id, slug = uuid.UUID(made.json()["id"]), made.json()["slug"]
        owner_email, _ = await store(client, boss, "Import bench")
        _, copy_vendor = await store(client, boss, "Copy baseline")
        _, many_vendor = await store(client, boss, "Executemany baseline")
        path = folder / "products.csv"
        write_csv(path, rows, slug)
        size_mb = path.stat().st_size / MB
        print(f"{rows} rows, {size_mb:.1f} MB of CSV", file=sys.stderr)
        await worker_ready(folder / "var" / "worker.heartbeat")
        first_s, first_rss, first = await import_file(client, owner_email, path, worker_pid)
        print(
            f"import: {first['status']} {first['counts']} in {first_s:.1f} s, "
            f"worker RSS growth {first_rss:.0f} MB; load average {load_average()}",
            file=sys.stderr,
        )
        again_s, again_rss, again = await import_file(client, owner_email, path, worker_pid)
        print(
            f"again: {again['status']} {again['counts']} in {again_s:.1f} s, "
            f"worker RSS growth {again_rss:.0f} MB; load average {load_average()}",
            file=sys.stderr,
        )
    copy_s = await bare_load(dsn, path, copy_vendor, category_id, copy=True)
    many_s = await bare_load(dsn, path, many_vendor, category_id, copy=False)
    created = first["counts"]["created"]
    return [
        ["Oja: POST /vendors/me/imports + job (new catalogue)", first_s, rows / first_s,
         first_rss, f"{first['status']}, {created} created"],
        ["Oja: the same file again (all unchanged)", again_s, rows / again_s, again_rss,
         f"{again['status']}, {again['counts']['unchanged']} unchanged"],
        ["bare: csv + asyncpg COPY (5 tables, 1 transaction)", copy_s, rows / copy_s,
         float("nan"), "no checks, no report"],
        ["bare: csv + asyncpg executemany (5 tables)", many_s, rows / many_s, float("nan"),
         "no checks, no report"],
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "OJA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="any database on the PostgreSQL server to use; a fresh one is created beside it",
    )
    args = parser.parse_args()

    from oja.core.migrate import upgrade

    loads = [os.getloadavg()[0]]

    with (
        tempfile.TemporaryDirectory(prefix="oja-bench-imports-") as tmp,
        fresh_database(args.postgres_url) as dsn,
    ):
        folder = Path(tmp)
        database_url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
        upgrade(database_url)
        env = bench_env(
            OJA_VAR_DIR=str(folder / "var"),
            OJA_DATABASE_URL=database_url,
            OJA_SECRET_KEY=SECRET,
            OJA_LOG_LEVEL="WARNING",
            OJA_IMPORT_MAX_BYTES=str(500 * MB),
        )
        argv = [sys.executable, "-m", "oja.cli", "worker", "--concurrency", "1"]
        worker: subprocess.Popen[bytes] | None = None
        try:
            # The API first: on a loaded machine two cold starts at once outlast the health wait.
            with uvicorn_server(
                "oja.main:create_app", env=env, log_path=folder / "api.log", start_timeout=300
            ) as base:
                worker = start_process(argv, env=env, log_path=folder / "worker.log")
                table = asyncio.run(
                    scenario(base, database_url, dsn, folder, args.rows, worker.pid)
                )
        except BaseException:
            if (folder / "worker.log").exists():
                print((folder / "worker.log").read_text(errors="replace")[-4000:], file=sys.stderr)
            raise
        finally:
            if worker is not None:
                stop_process(worker)
    loads.append(os.getloadavg()[0])
    print(machine_line())
    print(
        f"PostgreSQL, {args.rows} rows (two variants per product); one worker process; "
        f"load average (1 min) {loads[0]:.1f} before, {loads[1]:.1f} after"
    )
    print()
    print(
        markdown_table(["run", "seconds", "rows/s", "worker peak RSS growth MB", "outcome"], table)
    )


if __name__ == "__main__":
    main()
