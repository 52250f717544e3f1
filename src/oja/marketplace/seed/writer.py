"""Writing a :class:`~.plan.Plan`: one unit of work, bulk inserts, then the ledger and search.

Bulk inserts (``INSERT … VALUES`` in pages) instead of the services: the services take a
request's worth of rows at a time and would need minutes for ten thousand products. What the
services would have kept is kept here by construction (:mod:`.plan`: stock equals its movements,
summaries equal their published reviews) or by calling the very functions they call: each paid
group is booked with the ledger's ``book_payment`` and each processed refund with ``book_refund``
(balanced transactions, running balances, settlements), and the search index is rebuilt with
``search.service.rebuild``.

Idempotent: the first store's id is derived from the seed, so a database that holds it was seeded
already with that seed and nothing is added. Everything is one transaction: a run that fails adds
nothing (the stored pictures stay; their keys are derived from the seed, so the next run
overwrites them).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from argon2.low_level import Type, hash_secret
from sqlalchemy import func, insert, literal, select, table, text, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.db import Base, is_sqlite, unit_of_work
from oja.core.runtime import Runtime, running
from oja.files.config import FilesSettings
from oja.files.models import File
from oja.identity.config import IdentitySettings
from oja.identity.models import User, UserRole
from oja.marketplace.catalog.models import (
    Category,
    PriceChange,
    Product,
    ProductImage,
    ProductVariant,
)
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.inventory.models import StockMovement
from oja.marketplace.ledger.models import LedgerPosting, LedgerTransaction, StoreSettlement
from oja.marketplace.ledger.settlement import book_payment, book_refund
from oja.marketplace.orders.models import (
    OrderGroup,
    OrderLine,
    OrderRefund,
    OrderTransition,
    ReturnLine,
    ReturnRequest,
    StoreOrder,
)
from oja.marketplace.recommendations.models import BehaviourEvent
from oja.marketplace.reviews.models import Review, ReviewSummary
from oja.marketplace.search import service as search
from oja.marketplace.search.models import SearchDocument
from oja.marketplace.seed import pictures
from oja.marketplace.seed.activity import build
from oja.marketplace.seed.plan import PASSWORD, Picture, Plan, SeedConfig
from oja.marketplace.vendors.models import Vendor, VendorMember, VendorStatusChange

INSERT_ORDER: tuple[type[Base], ...] = (
    User,
    UserRole,
    Category,
    Vendor,
    VendorMember,
    VendorStatusChange,
    File,
    Product,
    ProductVariant,
    PriceChange,
    ProductImage,
    StockMovement,
    OrderGroup,
    StoreOrder,
    OrderLine,
    OrderTransition,
    ReturnRequest,
    ReturnLine,
    OrderRefund,
    Review,
    ReviewSummary,
    BehaviourEvent,
)
COUNTED: tuple[type[Base], ...] = (
    *INSERT_ORDER,
    StoreSettlement,
    LedgerTransaction,
    LedgerPosting,
    SearchDocument,
)
"""The tables the summary shows: what the seed writes, and what the ledger and search derive."""
PICTURE_WORKERS = 2
"""Pictures rendered at once (the rendering runs in threads; libvips releases the GIL)."""


class SeedConflict(Exception):
    """The database was seeded with this seed but other sizes: adding to it would not be the
    marketplace asked for."""


@dataclass
class SeedResult:
    added: bool
    counts: dict[str, int]
    seconds: float
    orders_by_status: dict[str, int] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    """Seconds per step (plan, pictures, inserts, ledger, search, analyze) of a run that added rows."""

    def table(self) -> str:
        width = max(len(name) for name in self.counts)
        lines = [f"{'table':<{width}}  rows", f"{'-' * width}  ----"]
        lines += [f"{name:<{width}}  {n:>{8}}" for name, n in self.counts.items()]
        lines.append("")
        lines.append(
            "store orders: "
            + ", ".join(f"{status} {n}" for status, n in sorted(self.orders_by_status.items()))
        )
        verb = "seeded" if self.added else "already seeded, nothing added"
        steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.phases.items())
        lines.append(f"{verb} in {self.seconds:.1f} s" + (f" ({steps})" if steps else ""))
        return "\n".join(lines) + "\n"


def password_hash(seed: int, settings: IdentitySettings) -> str:
    """The seeded people's one argon2id hash of :data:`PASSWORD`, salted from the seed (the same
    row in every database seeded alike); hashed once, not once per person."""
    salt = hashlib.sha256(f"oja-seed|{seed}".encode()).digest()[:16]
    return hash_secret(
        PASSWORD.encode(),
        salt,
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_cost,
        parallelism=settings.argon2_parallelism,
        hash_len=32,
        type=Type.ID,
    ).decode()


async def counts(db: AsyncSession) -> tuple[dict[str, int], dict[str, int]]:
    """Rows per counted table, and store orders per status."""
    found: dict[str, int] = {}
    for model in COUNTED:
        found[str(model.__tablename__)] = int(
            (await db.execute(select(func.count()).select_from(model))).scalar_one()
        )
    statuses = await db.execute(select(StoreOrder.status, func.count()).group_by(StoreOrder.status))
    return found, {str(status): int(n) for status, n in statuses.all()}


async def _store_pictures(runtime: Runtime, plan: Plan) -> list[dict[str, Any]]:
    settings = runtime.settings.section(FilesSettings)
    gate = asyncio.Semaphore(PICTURE_WORKERS)
    at = plan.config.now

    async def one(picture: Picture) -> dict[str, Any]:
        async with gate:
            return await pictures.store(runtime.storage, settings, picture, at)

    return list(await asyncio.gather(*(one(p) for p in plan.pictures)))


async def _write(db: AsyncSession, plan: Plan, files: list[dict[str, Any]]) -> None:
    rows: dict[type[Base], list[dict[str, Any]]] = {**plan.rows, File: files}
    for model in INSERT_ORDER:
        if batch := rows.get(model):
            await db.execute(insert(model), batch)


async def _book(db: AsyncSession, plan: Plan, settings: MarketplaceSettings) -> None:
    for reference in plan.payments:
        outcome = await book_payment(db, reference, settings)
        if outcome != "booked":
            raise RuntimeError(f"seeded payment {reference} not booked: {outcome}")
    for refund in plan.refunds:
        outcome = await book_refund(db, **asdict(refund))
        if outcome != "booked":
            raise RuntimeError(f"seeded refund {refund.refund_id} not booked: {outcome}")


async def seed(runtime: Runtime, config: SeedConfig) -> SeedResult:
    """Fill ``runtime``'s database with the marketplace of ``config`` (once)."""
    started = time.perf_counter()
    phases: dict[str, float] = {}

    def lap(name: str) -> None:
        phases[name] = time.perf_counter() - started - sum(phases.values())

    hashed = password_hash(config.seed, runtime.settings.section(IdentitySettings))
    plan = await asyncio.to_thread(build, config, hashed)
    lap("plan")
    with running(runtime):  # search's rebuild invalidates the runtime's cache after commit
        async with unit_of_work(runtime.database) as db:
            if await db.get(Vendor, plan.marker) is not None:
                found, statuses = await counts(db)
                if found[Product.__tablename__] != plan.count(Product):
                    raise SeedConflict(
                        f"this database was seeded with --seed {config.seed} and "
                        f"{found[Product.__tablename__]} products, not {plan.count(Product)}"
                    )
                return SeedResult(False, found, time.perf_counter() - started, statuses)
            files = await _store_pictures(runtime, plan)
            lap("pictures")
            await _write(db, plan, files)
            lap("inserts")
            await _book(db, plan, runtime.settings.section(MarketplaceSettings))
            lap("ledger")
            await search.rebuild(db)
            lap("search")
            found, statuses = await counts(db)
    await _analyze(runtime)
    lap("analyze")
    return SeedResult(True, found, time.perf_counter() - started, statuses, phases)


async def _analyze(runtime: Runtime) -> None:
    """Statistics and the visibility map for what was just bulk-loaded, as PostgreSQL's manual
    advises after a bulk load ("Populating a Database": run ANALYZE afterwards).

    Without them the first plans were made on an empty table's estimates: the product listing chose
    a bitmap AND over every live variant for each product of its page and counted the listed products
    with a sequential scan (27 ms instead of 3.4 ms on 10,000 products), and asyncpg's prepared
    statements kept those plans for the whole shopping day.

    Only the tables the seed filled (issue 25): a vacuumed empty table is one PostgreSQL believes
    empty (``reltuples`` 0), while a never-vacuumed one (``reltuples`` -1) is planned as at least
    ten pages. On "empty", the generic plans made in the day's first minutes (asyncpg's prepared
    statements, the foreign keys' RI checks, cached per connection) read ``realtime_event`` and
    ``notification`` by sequential scan, and kept doing so as the tables grew to hundreds of pages
    (592 and 504 buffers a call) — nothing replans them while no ANALYZE runs.
    """
    database = runtime.database
    async with database.autocommit_engine.connect() as connection:
        if is_sqlite(database.url):
            await connection.execute(text("ANALYZE"))
            return
        quote = connection.dialect.identifier_preparer.quote
        tables = (
            await connection.execute(
                text(
                    "SELECT relname FROM pg_class WHERE relkind = 'r'"
                    " AND relnamespace = current_schema()::regnamespace ORDER BY relname"
                )
            )
        ).scalars()
        probe = union_all(
            *(
                select(literal(name)).where(select(literal(1)).select_from(table(name)).exists())
                for name in tables
            )
        )
        filled = (await connection.execute(probe)).scalars().all()
        if filled:
            # VACUUM cannot run inside a transaction block: the autocommit engine runs it alone.
            names = ", ".join(quote(name) for name in filled)
            await connection.execute(text(f"VACUUM (ANALYZE) {names}"))


def default_now() -> Any:
    """The CLI's anchor: now, to the minute."""
    return utcnow().replace(second=0, microsecond=0)
