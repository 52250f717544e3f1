"""The API's CPU per request on the shopping day's endpoints, one request at a time, base beside current.

``python -m bench.endpoints [--compare-src DIR] [--rounds 3] [--requests 60] [--products 2000]
[--db-prefix oja_endpoints]``

What runs, all on 127.0.0.1: a database of its own on ``--postgres`` filled by ``oja seed``
(``--products``, ``--vendors``, ``--buyers``; with ``--compare-src`` the seed and migrations are
the other tree's, and a copy of that database, migrated by this tree, serves this tree: the same
rows, each tree on its own schema), one uvicorn process per tree, and this process sending each
endpoint's requests in turn, one at a time (no concurrency: what one request costs the server):
the listing with the day's filters (``page`` 1–29 of 20), a product page, search by words, search
by category (the day's three sorts), recommendations, the cart, adding to the cart, and one order
group. Each endpoint's batch is timed by the server process's own CPU (``/proc/<pid>/stat``
utime + stime before and after), which a busy neighbour does not inflate the way it does latency.
Rounds are interleaved (base, current, then current, base…) and the load average is printed per
round. The read answers of both trees are compared byte for byte (listing, product, search).

Every process started is stopped and every database dropped, on errors and Ctrl-C too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.common import bench_env, machine_line, markdown_table, start_process, stop_process

HOST = "127.0.0.1"
SECRET = "bench-secret-key-that-is-long-enough-0123456789"
WORDS = ("phone", "ankara", "shea", "blender", "football", "novel", "perfume", "classic", "eko")
SORTS = ("price_asc", "rating", "newest")
START_TIMEOUT = 120.0
COMPARED = ("GET /products", "GET /products/{id}", "GET /search?q", "GET /search?category")
"""Endpoints whose answers must be byte-identical across the trees."""
SIGNED = re.compile(rb"expires=\d+&sig=[0-9a-f]+")
"""A signed image URL's expiry and signature: the clock's, not the tree's."""


def _cpu(pid: int) -> float:
    """User + system CPU seconds of one process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def _admin(url: str, statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def _database(admin: str, name: str, template: str | None = None) -> Iterator[str]:
    """Create ``name`` (a copy of ``template`` when given) and drop it at the end; yield its URL."""
    copy = f' TEMPLATE "{template}"' if template else ""
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield f"postgresql+asyncpg://{admin.split('://', 1)[1].rpartition('/')[0]}/{name}"
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _env(
    work: Path, name: str, database_url: str, redis_url: str, src: Path | None
) -> dict[str, str]:
    env = bench_env(
        OJA_ENV="test",
        OJA_SECRET_KEY=SECRET,
        OJA_VAR_DIR=str(work / f"var-{name}"),
        OJA_DATABASE_URL=database_url,
        OJA_REDIS_URL=redis_url,
        OJA_BROKER_URL=redis_url,
        OJA_LOG_LEVEL="WARNING",
        OJA_LLM_PROVIDER="local",
        OJA_EMBEDDING_PROVIDER="local",
        # The seeded stores are on the free plan; one buyer's requests are not its traffic limit.
        OJA_VENDOR_FREE_TIER_USERS="1000000",
    )
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src.resolve()), env["PYTHONPATH"]])
    return env


def _run(argv: list[str], env: dict[str, str], what: str) -> str:
    import subprocess

    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done.stdout


@contextmanager
def _server(env: dict[str, str], log_path: Path) -> Iterator[tuple[str, int]]:
    """uvicorn on a free port, one process; yield its base URL and pid."""
    from bench.common import free_port

    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "oja.main:create_app", "--factory"]
    argv += ["--host", HOST, "--port", str(port), "--no-access-log", "--log-level", "warning"]
    process = start_process(argv, env=env, log_path=log_path)
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{base} did not start")
            time.sleep(0.2)
        yield base, process.pid
    finally:
        stop_process(process)


Request = tuple[str, str, dict[str, Any] | None, Any]
"""method, path, query parameters, JSON body."""


@dataclass
class Target:
    """One tree's server, its signed-in buyer, and the day's requests for it."""

    name: str
    base: str
    pid: int
    client: httpx.Client
    redis: Any
    answers: dict[str, list[bytes]] = field(default_factory=dict)


def _plan(client: httpx.Client, requests: int, seed: int) -> dict[str, list[Request]]:
    """Each endpoint's ``requests`` requests, drawn as the shopping day draws them."""
    rng = random.Random(seed)
    tree = client.get("/categories").raise_for_status().json()
    slugs = [n["slug"] for n in tree] + [c["slug"] for n in tree for c in n.get("children", [])]
    pages = [rng.randrange(1, 30) for _ in range(requests)]
    products: list[str] = []
    for page in sorted(set(pages))[:10]:
        listing = client.get("/products", params={"page": page, "per_page": 20})
        products += [item["id"] for item in listing.raise_for_status().json()["items"]]
    variants: list[str] = []
    for product_id in products[:40]:
        shown = client.get(f"/products/{product_id}").raise_for_status().json()
        variants += [v["id"] for v in shown["variants"] if v.get("stock", 0) > 0][:1]
    groups = client.get("/orders").raise_for_status().json()["items"]
    if not products or not variants or not groups:
        raise RuntimeError("the seeded database has no products, stock or order group")
    cart_variants = variants[:8]
    return {
        "GET /products": [("GET", "/products", {"page": p, "per_page": 20}, None) for p in pages],
        "GET /products/{id}": [
            ("GET", f"/products/{rng.choice(products)}", None, None) for _ in range(requests)
        ],
        "GET /search?q": [
            ("GET", "/search", {"q": rng.choice(WORDS), "per_page": 20}, None)
            for _ in range(requests)
        ],
        "GET /search?category": [
            ("GET", "/search", {"category": rng.choice(slugs), "sort": rng.choice(SORTS)}, None)
            for _ in range(requests)
        ],
        "GET /recommendations": [("GET", "/recommendations", None, None)] * requests,
        "GET /cart": [("GET", "/cart", None, None)] * requests,
        "POST /cart/items": [
            ("POST", "/cart/items", None, {"variant_id": cart_variants[i % len(cart_variants)]})
            for i in range(requests)
        ],
        "GET /order-groups/{id}": [("GET", f"/order-groups/{groups[0]['id']}", None, None)]
        * requests,
    }


def _sign_in(base: str, buyer: int) -> httpx.Client:
    from oja.marketplace.seed.plan import EMAIL_DOMAIN, PASSWORD

    client = httpx.Client(base_url=base, timeout=60)
    body = {"email": f"buyer{buyer}@{EMAIL_DOMAIN}", "password": PASSWORD}
    token = client.post("/auth/login", json=body).raise_for_status().json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def _send(target: Target, endpoint: str, batch: list[Request], keep: bool) -> float:
    """Send ``batch`` one request at a time; the server's CPU ms per request. Both trees' servers
    share the Redis db and would share its cached answers (search): it is emptied first, so each
    batch starts as cold as the other tree's."""
    target.redis.flushdb()
    before = _cpu(target.pid)
    bodies = []
    for method, path, params, body in batch:
        answer = target.client.request(method, path, params=params, json=body)
        if answer.status_code not in (200, 201):
            raise RuntimeError(f"{target.name} {method} {path}: {answer.status_code} {answer.text}")
        bodies.append(answer.content)
    used = _cpu(target.pid) - before
    if keep:
        target.answers[endpoint] = [SIGNED.sub(b"<signed>", body) for body in bodies]
    return 1000 * used / len(batch)


def bench(args: argparse.Namespace) -> None:
    import redis

    admin = args.postgres
    redis_url = args.redis
    tag = f"{args.db_prefix}_{uuid.uuid4().hex[:8]}"
    print(machine_line())
    print(
        f"## API CPU ms per request, one request at a time: {args.rounds} interleaved rounds of "
        f"{args.requests} requests per endpoint; seeded {args.products} products, "
        f"{args.vendors} stores, {args.buyers} buyers (seed {args.seed})"
    )
    with tempfile.TemporaryDirectory(prefix="oja-bench-endpoints-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        seed_src: Path | None = args.compare_src
        seeded = stack.enter_context(_database(admin, f"{tag}_base"))
        seed_argv = [sys.executable, "-m", "oja.cli", "seed", f"--products={args.products}"]
        seed_argv += [f"--vendors={args.vendors}", f"--buyers={args.buyers}", f"--seed={args.seed}"]
        started = time.monotonic()
        _run(seed_argv, _env(work, "seed", seeded, redis_url, seed_src), "oja seed")
        print(f"seeded in {time.monotonic() - started:.0f} s")
        variants: list[tuple[str, str, Path | None]] = []
        if args.compare_src is not None:
            # The same rows for the current tree, on its own schema (its migrations on top).
            copy = stack.enter_context(_database(admin, f"{tag}_cur", template=f"{tag}_base"))
            migrate = [sys.executable, "-m", "oja.cli", "migrate"]
            _run(migrate, _env(work, "migrate", copy, redis_url, None), "oja migrate")
            variants.append(("base", seeded, args.compare_src))
            variants.append(("current", copy, None))
        else:
            variants.append(("current", seeded, None))
        targets: list[Target] = []
        flush = redis.Redis.from_url(redis_url)
        stack.callback(flush.close)
        stack.callback(flush.flushdb)
        for name, url, src in variants:
            base, pid = stack.enter_context(
                _server(_env(work, name, url, redis_url, src), work / f"{name}.log")
            )
            client = _sign_in(base, args.buyer)
            stack.callback(client.close)
            targets.append(Target(name, base, pid, client, flush))
        plan = _plan(targets[0].client, args.requests, args.seed)
        for target in targets:  # warm-up: imports, caches, prepared statements
            for endpoint, batch in plan.items():
                _send(target, endpoint, batch[: max(3, len(batch) // 5)], keep=False)
        cpu: dict[tuple[str, str], list[float]] = {}
        for index in range(args.rounds):
            order = targets if index % 2 == 0 else targets[::-1]
            line = []
            load = _loadavg()
            for endpoint, batch in plan.items():
                for target in order:
                    ms = _send(target, endpoint, batch, keep=index == 0)
                    cpu.setdefault((target.name, endpoint), []).append(ms)
                line.append(
                    f"{endpoint} " + "/".join(f"{cpu[t.name, endpoint][-1]:.2f}" for t in targets)
                )
            print(f"round {index + 1} (load average {load}): " + "; ".join(line))
        _report(targets, plan, cpu)


def _show_difference(endpoint: str, targets: list[Target]) -> None:
    pairs = zip(targets[0].answers[endpoint], targets[1].answers[endpoint], strict=True)
    for number, (one, other) in enumerate(pairs):
        if one != other:
            at = next((i for i, (a, b) in enumerate(zip(one, other, strict=False)) if a != b), 0)
            print(f"{endpoint} answer {number} differs at byte {at}:")
            print(f"  base    …{one[max(0, at - 80) : at + 80]!r}")
            print(f"  current …{other[max(0, at - 80) : at + 80]!r}")
            return


def _report(
    targets: list[Target], plan: dict[str, list[Request]], cpu: dict[tuple[str, str], list[float]]
) -> None:
    rows = []
    for endpoint in plan:
        medians = [statistics.median(cpu[t.name, endpoint]) for t in targets]
        row: list[object] = [endpoint, *(f"{m:.2f}" for m in medians)]
        if len(targets) == 2:
            row.append(f"{medians[1] / medians[0]:.2f}" if medians[0] else "–")
            if endpoint in COMPARED:
                same = targets[0].answers[endpoint] == targets[1].answers[endpoint]
                row.append("yes" if same else "NO")
                if not same:
                    _show_difference(endpoint, targets)
            else:
                row.append("–")
        rows.append(row)
    totals = [
        sum(statistics.median(cpu[t.name, e]) * len(plan[e]) for e in plan)
        / sum(len(b) for b in plan.values())
        for t in targets
    ]
    headers = ["endpoint", *(f"{t.name} CPU ms/req" for t in targets)]
    if len(targets) == 2:
        headers += ["current ÷ base", "answers identical"]
        rows.append(
            [
                "all (mean)",
                f"{totals[0]:.2f}",
                f"{totals[1]:.2f}",
                f"{totals[1] / totals[0]:.2f}",
                "",
            ]
        )
    print()
    print(markdown_table(headers, rows))
    print(
        "\nMedians over the rounds of the server process's CPU per request (utime + stime, "
        "10 ms ticks over each batch). The answers are compared from the first round."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=60, help="requests per endpoint a round")
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--vendors", type=int, default=20)
    parser.add_argument("--buyers", type=int, default=50)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--buyer", type=int, default=0, help="the seeded buyer who signs in")
    parser.add_argument(
        "--compare-src",
        type=Path,
        default=None,
        help="a `src` folder of another Oja version (say, a worktree of the base commit): "
        "served beside this tree, on the same rows",
    )
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server (any database on it) where the bench creates and drops its own",
    )
    parser.add_argument(
        "--db-prefix", default="oja_endpoints", help="the scratch databases' name prefix"
    )
    parser.add_argument(
        "--redis",
        default=os.environ.get("OJA_TEST_REDIS_URL", "redis://127.0.0.1:6379/4"),
        help="a Redis db for the servers' cache and limits",
    )
    bench(parser.parse_args(argv))


if __name__ == "__main__":
    main()
