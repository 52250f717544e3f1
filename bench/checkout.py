"""``POST /checkout`` latency on PostgreSQL: a 10-line cart across 3 stores, paid through the
Paystack fake, next to the same statements sent as raw SQL (asyncpg) in the same run.

Oja runs under uvicorn (one process) on 127.0.0.1 against a fresh PostgreSQL database created on
the given server (dropped afterwards); the Paystack fake runs in this process on 127.0.0.1. Each
round refills the buyer's cart (10 ``POST /cart/items``, not timed) and times one checkout. The
baseline does, per round, what the checkout's SQL does — read the cart with its variants, products,
stores and discounts, reserve the 10 variants in one conditional UPDATE, insert the stock movements,
the payment, the group, 3 store orders, 10 lines, 3 transitions, delete the cart — in one
transaction, with the same Paystack initialise call in the middle, and no framework around it.
Rounds alternate Oja and baseline so the drift of a shared machine falls on both.

    python bench/checkout.py --database-url postgresql://postgres@127.0.0.1:5432/test [--rounds 100]

``--cpu`` measures instead the API's CPU per request of the shopping day's four routes (``POST
/cart/items``, ``GET /cart``, ``POST /checkout``, ``GET /order-groups/{id}``): user + system time
of the uvicorn process (``/proc/<pid>/stat``) before and after each batch of one route, divided
by the requests of the batch. With ``--base-tree`` (another checkout of Oja with its own
``.venv``, e.g. a ``git worktree`` of the commit before a change) a second uvicorn runs that
tree's code on the same database, and every round measures both, their order alternating, so the
drift of a shared machine falls on both alike.

    python bench/checkout.py --cpu --database-url postgresql://postgres@127.0.0.1:5432/postgres \
        --base-tree /tmp/base --rounds 6 --buyers 20
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
import json
import os
import signal
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from bench.common import (
    HOST,
    ROOT,
    bench_env,
    free_port,
    machine_line,
    markdown_table,
    percentile,
    start_process,
    stop_process,
    wait_http_ok,
)
from oja.sandbox.paystack import PaystackFake
from oja.sandbox.server import SandboxServer

SECRET = "sk_test_bench_paystack"
PASSWORD = "correct horse battery"
ADDRESS = {"name": "Ada Obi", "line1": "12 Allen Avenue", "city": "Ikeja", "country": "NG"}
STORES = (4, 3, 3)


async def _signup(client: httpx.AsyncClient, prefix: str) -> dict[str, str]:
    email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
    created = await client.post("/auth/signup", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}", "id": created.json()["id"]}


async def setup(client: httpx.AsyncClient, dsn: str) -> tuple[dict[str, str], list[str]]:
    """Three approved stores with 10 active variants between them; a buyer."""
    variants: list[str] = []
    for n, size in enumerate(STORES):
        owner = await _signup(client, f"vendor{n}")
        headers = {"Authorization": owner["Authorization"]}
        store = await client.post("/vendors", json={"name": f"Bench {n}"}, headers=headers)
        assert store.status_code == 201, store.text
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(
                "UPDATE vendor SET status = 'approved' WHERE id = $1", uuid.UUID(store.json()["id"])
            )
        finally:
            await conn.close()
        for i in range(size):
            product = await client.post(
                "/products",
                json={
                    "title": f"Bench {n}-{i}",
                    "status": "active",
                    "variants": [{"sku": f"B{n}-{i}", "price": 1000 + i, "stock": 1_000_000}],
                },
                headers=headers,
            )
            assert product.status_code == 201, product.text
            variants.append(product.json()["variants"][0]["id"])
    return await _signup(client, "buyer"), variants


async def oja_round(client: httpx.AsyncClient, buyer: dict[str, str], variants: list[str]) -> float:
    headers = {"Authorization": buyer["Authorization"]}
    for variant in variants:
        added = await client.post("/cart/items", json={"variant_id": variant}, headers=headers)
        assert added.status_code == 201, added.text
    started = time.perf_counter()
    response = await client.post("/checkout", json={"shipping_address": ADDRESS}, headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 201, response.text
    return elapsed


CART = """
SELECT c.id, c.quantity, v.id, v.price, v.currency, v.sku, v.options, v.vendor_id, p.id, p.title,
       p.status, s.status, g.path
FROM cart_item c JOIN product_variant v ON v.id = c.variant_id
JOIN product p ON p.id = v.product_id JOIN vendor s ON s.id = p.vendor_id
LEFT JOIN category g ON g.id = p.category_id
WHERE c.buyer_id = $1 AND v.vendor_id = s.id AND p.vendor_id = s.id ORDER BY c.added_at, c.id
"""
DISCOUNTS = """
SELECT * FROM discount WHERE vendor_id = ANY($1::uuid[]) AND code IS NULL AND starts_at <= $2
AND (ends_at IS NULL OR ends_at > $2)
"""
RESERVE = """
UPDATE product_variant SET stock = stock - w.q, updated_at = $3
FROM unnest($1::uuid[], $2::int[]) AS w(id, q)
WHERE product_variant.id = w.id AND product_variant.stock >= w.q RETURNING product_variant.id, stock
"""


async def baseline_round(
    pool: asyncpg.Pool, paystack: httpx.AsyncClient, buyer_id: uuid.UUID, variants: list[str]
) -> float:
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        await conn.executemany(
            "INSERT INTO cart_item (id, buyer_id, variant_id, quantity, price_seen, currency, "
            "added_at, updated_at) VALUES ($1, $2, $3, 1, 0, 'NGN', $4, $4)",
            [(uuid.uuid4(), buyer_id, uuid.UUID(v), now) for v in variants],
        )
    started = time.perf_counter()
    async with pool.acquire() as conn, conn.transaction():
        lines = await conn.fetch(CART, buyer_id)
        await conn.fetch(DISCOUNTS, list({r[7] for r in lines}), now)
        reserved = await conn.fetch(RESERVE, [r[2] for r in lines], [r[1] for r in lines], now)
        assert len(reserved) == len(lines)
        stock = {r[0]: r[1] for r in reserved}
        await conn.executemany(
            "INSERT INTO stock_movement (id, vendor_id, variant_id, actor_id, reason, stock_before,"
            " stock_after, delta, created_at) VALUES ($1, $2, $3, $4, 'checkout', $5, $6, $7, $8)",
            [
                (uuid.uuid4(), r[7], r[2], buyer_id, stock[r[2]] + r[1], stock[r[2]], -r[1], now)
                for r in lines
            ],
        )
        total = sum(r[1] * r[3] for r in lines)
        reference = f"base_{uuid.uuid4().hex}"
        started_tx = await paystack.post(
            "/transaction/initialize",
            json={
                "email": "b@example.com",
                "amount": total,
                "currency": "NGN",
                "reference": reference,
            },
        )
        data = started_tx.json()["data"]
        await conn.execute(
            "INSERT INTO payment (id, user_id, provider, reference, status, amount, currency, "
            "amount_refunded, email, authorization_url, access_code, extra, created_at, updated_at)"
            " VALUES ($1, $2, 'paystack', $3, 'pending', $4, 'NGN', 0, 'b@example.com', $5, $6,"
            " '{}', $7, $7)",
            uuid.uuid4(),
            buyer_id,
            reference,
            total,
            data["authorization_url"],
            data["access_code"],
            now,
        )
        group_id = uuid.uuid4()
        await conn.execute(
            "INSERT INTO order_group (id, buyer_id, status, currency, subtotal, discount_total, "
            "total, shipping_address, provider, payment_reference, authorization_url, expires_at,"
            " created_at, updated_at) VALUES ($1, $2, 'awaiting_payment', 'NGN', $3, 0, $3, $4,"
            " 'paystack', $5, $6, $7, $8, $8)",
            group_id,
            buyer_id,
            total,
            json.dumps(ADDRESS),
            reference,
            data["authorization_url"],
            now + timedelta(minutes=30),
            now,
        )
        orders = {vendor: uuid.uuid4() for vendor in dict.fromkeys(r[7] for r in lines)}
        await conn.executemany(
            "INSERT INTO store_order (id, vendor_id, group_id, buyer_id, status, currency, "
            "subtotal, discount_total, total, refunded_amount, created_at, updated_at) VALUES "
            "($1, $2, $3, $4, 'pending', 'NGN', $5, 0, $5, 0, $6, $6)",
            [
                (
                    oid,
                    vendor,
                    group_id,
                    buyer_id,
                    sum(r[1] * r[3] for r in lines if r[7] == vendor),
                    now,
                )
                for vendor, oid in orders.items()
            ],
        )
        await conn.executemany(
            "INSERT INTO order_line (id, vendor_id, order_id, product_id, variant_id, title, sku, "
            "options, quantity, unit_price, unit_discount, tax, line_total, returned_quantity) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, 0, $11, 0)",
            [
                (
                    uuid.uuid4(),
                    r[7],
                    orders[r[7]],
                    r[8],
                    r[2],
                    r[9],
                    r[5],
                    r[6],
                    r[1],
                    r[3],
                    r[1] * r[3],
                )
                for r in lines
            ],
        )
        await conn.executemany(
            "INSERT INTO order_transition (id, vendor_id, order_id, to_status, actor_id, note, "
            "created_at) VALUES ($1, $2, $3, 'pending', $4, 'checkout', $5)",
            [(uuid.uuid4(), vendor, oid, buyer_id, now) for vendor, oid in orders.items()],
        )
        await conn.execute(
            "DELETE FROM cart_item WHERE buyer_id = $1 AND id = ANY($2::uuid[])",
            buyer_id,
            [r[0] for r in lines],
        )
    return (time.perf_counter() - started) * 1000


async def run(base_url: str, dsn: str, paystack_url: str, rounds: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"oja": [], "baseline": []}
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        buyer, variants = await setup(client, dsn)
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        headers = {"Authorization": f"Bearer {SECRET}"}
        async with httpx.AsyncClient(base_url=paystack_url, headers=headers) as paystack:
            await pool.execute("SELECT 1")
            buyer_id = uuid.UUID(buyer["id"])
            for index in range(rounds + 2):  # two warm-up rounds, not counted
                oja = await oja_round(client, buyer, variants)
                base = await baseline_round(pool, paystack, buyer_id, variants)
                if index >= 2:
                    timings["oja"].append(oja)
                    timings["baseline"].append(base)
        await pool.close()
    return timings


ROUTES = ("POST /cart/items", "GET /cart", "POST /checkout", "GET /order-groups/{id}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# uvicorn under cProfile, on (SIGUSR1) around each batch of the profiled route: the statistics
# are written to argv[1] when the server stops (SIGTERM)
_PROFILED = """
import cProfile, signal, sys, uvicorn
profile = cProfile.Profile()
reraise = signal.raise_signal
def dump_then_reraise(signum):  # uvicorn re-raises the SIGTERM it handled once it has stopped
    profile.disable()
    profile.dump_stats(sys.argv[1])
    reraise(signum)
signal.raise_signal = dump_then_reraise
signal.signal(signal.SIGUSR1, lambda *_: profile.enable())  # the profiled route's batches only
signal.signal(signal.SIGUSR2, lambda *_: profile.disable())
uvicorn.run("oja.main:create_app", factory=True, host=sys.argv[2], port=int(sys.argv[3]),
            access_log=False, log_level="warning")
"""


def start_tree(
    tree: Path, env: dict[str, str], log_path: Path, profile: Path | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """uvicorn serving ``tree``'s Oja with ``tree``'s own interpreter; (process, base URL).
    With ``profile``, the server runs under cProfile and writes its statistics there on exit."""
    port = free_port()
    python = tree / ".venv" / "bin" / "python"
    argv = [str(python), "-m", "uvicorn", "oja.main:create_app", "--factory", "--host", HOST]
    argv += ["--port", str(port), "--no-access-log", "--log-level", "warning"]
    if profile is not None:
        argv = [str(python), "-c", _PROFILED, str(profile), HOST, str(port)]
    # ``src`` first: a tree whose .venv is another checkout's (its editable install) still
    # serves its own code
    tree_env = {**env, "PYTHONPATH": os.pathsep.join([str(tree / "src"), str(tree)])}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            env=tree_env,
            cwd=tree,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process, f"http://{HOST}:{port}"


class Server:
    def __init__(self, label: str, process: subprocess.Popen[bytes], url: str) -> None:
        self.label, self.process, self.url = label, process, url
        self.profiled: str | None = None
        self.cpu_ms: dict[str, list[float]] = {route: [] for route in ROUTES}
        self.ms: dict[str, list[float]] = {route: [] for route in ROUTES}


async def _batch(
    server: Server, route: str, calls: list[tuple[str, str, dict[str, Any] | None, dict[str, str]]]
) -> list[httpx.Response]:
    """Send ``calls`` (method, path, json, headers) two at a time; note the CPU per request."""
    answers: list[httpx.Response] = []
    async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:

        async def one(call: tuple[str, str, dict[str, Any] | None, dict[str, str]]) -> None:
            method, path, body, headers = call
            started = time.perf_counter()
            response = await client.request(method, path, json=body, headers=headers)
            server.ms[route].append((time.perf_counter() - started) * 1000)
            assert response.status_code in (200, 201), (route, response.text)
            answers.append(response)

        await client.get("/healthz")  # the connection open before the clock starts
        if route == server.profiled:
            os.kill(server.process.pid, signal.SIGUSR1)
        before = cpu_seconds(server.process.pid)
        for start in range(0, len(calls), 2):
            await asyncio.gather(*(one(call) for call in calls[start : start + 2]))
        used = cpu_seconds(server.process.pid) - before
        if route == server.profiled:
            os.kill(server.process.pid, signal.SIGUSR2)
    server.cpu_ms[route].append(1000 * used / len(calls))
    return answers


async def cpu_round(server: Server, buyers: list[dict[str, str]], variants: list[str]) -> None:
    heads = [{"Authorization": b["Authorization"]} for b in buyers]
    adds = [("POST", "/cart/items", {"variant_id": v}, h) for h in heads for v in variants]
    await _batch(server, ROUTES[0], adds)
    await _batch(server, ROUTES[1], [("GET", "/cart", None, h) for h in heads for _ in range(3)])
    body = {"shipping_address": ADDRESS}
    made = await _batch(server, ROUTES[2], [("POST", "/checkout", body, h) for h in heads])
    # the answers come in completion order: each group is read by the buyer who owns it
    owned = {r.json()["order_group_id"]: r.request.headers["Authorization"] for r in made}
    reads = [("GET", f"/order-groups/{g}", None, {"Authorization": a}) for g, a in owned.items()]
    await _batch(server, ROUTES[3], reads * 3)


async def cpu_run(servers: list[Server], dsn: str, rounds: int, per_round: int) -> None:
    async with httpx.AsyncClient(base_url=servers[0].url, timeout=120) as client:
        _, variants = await setup(client, dsn)
        people = [
            await _signup(client, "buyer") for _ in range(per_round * (rounds + 1) * len(servers))
        ]
    for index in range(rounds + 1):  # the first round warms up, not counted
        order = servers if index % 2 == 0 else servers[::-1]
        for server in order:
            take, people = people[:per_round], people[per_round:]
            if index == 0:
                take = take[: max(2, per_round // 4)]
            await cpu_round(server, take, variants)
            if index == 0:
                for route in ROUTES:
                    server.cpu_ms[route].clear()
                    server.ms[route].clear()


@contextmanager
def own_stack(server: str, prefix: str, **extra: str) -> Iterator[tuple[str, dict[str, str], Path]]:
    """A fresh migrated database on ``server`` and a Paystack fake: (the database's DSN, the
    servers' environment, a temporary folder), all dropped afterwards."""
    name = f"oja_bench_{prefix}_{uuid.uuid4().hex[:8]}"
    dsn = f"{server.rpartition('/')[0]}/{name}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        from oja.core.migrate import upgrade

        url = "postgresql+asyncpg://" + dsn.removeprefix("postgresql://")
        upgrade(url)
        fake = PaystackFake(secret_key=SECRET)
        with (
            tempfile.TemporaryDirectory(prefix=f"oja-bench-{prefix}-") as tmp,
            SandboxServer(fake.app) as paystack,
        ):
            env = bench_env(
                OJA_VAR_DIR=str(Path(tmp) / "var"),
                OJA_DATABASE_URL=url,
                OJA_LOG_LEVEL="WARNING",
                OJA_PAYSTACK_SECRET_KEY=SECRET,
                OJA_PAYSTACK_BASE_URL=paystack.url,
                **extra,
            )
            yield dsn, env, Path(tmp)
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def cpu_main(args: argparse.Namespace, server: str) -> None:
    loads = [Path("/proc/loadavg").read_text().split()[0]]
    servers: list[Server] = []
    extra = {
        "OJA_VENDOR_FREE_TIER_USERS": "1000000",
        "OJA_ARGON2_MEMORY_COST": "1024",
        "OJA_ARGON2_TIME_COST": "1",
    }
    if args.redis_url:
        extra["OJA_REDIS_URL"] = args.redis_url
    with own_stack(server, "cpu", **extra) as (dsn, env, tmp):
        trees = [("this tree", ROOT)]
        if args.base_tree:
            trees.insert(0, ("base tree", Path(args.base_tree).resolve()))
        try:
            for label, tree in trees:
                profile = args.profile if tree == ROOT and args.profile else None
                log = tmp / f"{len(servers)}.log"
                process, base_url = start_tree(tree, env, log, Path(profile) if profile else None)
                servers.append(Server(label, process, base_url))
                if profile:
                    servers[-1].profiled = args.profile_route
                wait_http_ok(f"{base_url}/healthz", process, timeout=300)
            asyncio.run(cpu_run(servers, dsn, args.rounds, args.buyers))
        finally:
            for s in servers:
                stop_process(s.process)
    loads.append(Path("/proc/loadavg").read_text().split()[0])
    print(machine_line())
    print(
        f"API CPU ms per request (uvicorn utime+stime), {args.rounds} rounds of {args.buyers} "
        f"buyers per tree, interleaved; 10-line carts across 3 stores, PostgreSQL, Paystack fake; "
        f"load average {loads[0]} → {loads[1]}"
    )
    print()
    rows = []
    for route in ROUTES:
        for s in servers:
            cpu = s.cpu_ms[route]
            rows.append(
                [
                    route,
                    s.label,
                    len(s.ms[route]),
                    statistics.median(cpu),
                    min(cpu),
                    max(cpu),
                    percentile(s.ms[route], 50),
                ]
            )
    headers = ["route", "code", "requests", "CPU ms/req median", "min", "max", "p50 ms"]
    print(markdown_table(headers, rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("OJA_TEST_POSTGRES_URL"),
        help="A PostgreSQL server URL; a fresh database is created on it and dropped afterwards.",
    )
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--cpu", action="store_true", help="CPU per request of four routes.")
    parser.add_argument("--base-tree", help="--cpu: also serve this tree's code, interleaved.")
    parser.add_argument("--buyers", type=int, default=20, help="--cpu: buyers per round.")
    parser.add_argument("--redis-url", help="--cpu: the servers' OJA_REDIS_URL (a db of yours).")
    parser.add_argument(
        "--profile", help="--cpu: run this tree's server under cProfile, statistics to this file."
    )
    parser.add_argument(
        "--profile-route", default="POST /checkout", choices=ROUTES, help="--profile: this route."
    )
    args = parser.parse_args()
    if not args.database_url:
        parser.error("--database-url (or OJA_TEST_POSTGRES_URL) is required: PostgreSQL only")
    server = args.database_url.replace("postgresql+asyncpg://", "postgresql://")
    if args.cpu:
        cpu_main(args, server)
        return
    with own_stack(server, "checkout") as (dsn, env, tmp):
        port = free_port()
        argv = [sys.executable, "-m", "uvicorn", "oja.main:create_app", "--factory"]
        argv += [
            "--host",
            HOST,
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        process = start_process(argv, env=env, log_path=tmp / "server.log")
        try:
            base_url = f"http://{HOST}:{port}"
            # A loaded shared machine can take a minute to import and start the app.
            wait_http_ok(f"{base_url}/healthz", process, timeout=300)
            timings = asyncio.run(run(base_url, dsn, env["OJA_PAYSTACK_BASE_URL"], args.rounds))
        finally:
            stop_process(process)
    print(machine_line())
    print(
        f"{args.rounds} sequential checkouts of a 10-line cart across 3 stores per row (after 2 "
        "warm-up rounds), PostgreSQL, Paystack fake on 127.0.0.1, rounds interleaved"
    )
    print()
    rows = [
        [label, len(values), percentile(values, 50), percentile(values, 95), max(values)]
        for label, values in (
            ("Oja POST /checkout (uvicorn, 14 statements)", timings["oja"]),
            ("baseline: same SQL via asyncpg + initialise, no framework", timings["baseline"]),
        )
    ]
    print(markdown_table(["path", "checkouts", "p50 ms", "p95 ms", "max ms"], rows))


async def _admin(server: str, statement: str) -> None:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
