"""The head schema still holds every trigger that keeps the listing's columns on ``product``
(migration ``c18l00000001``). They are not declared by the models, so ``alembic check`` does not
see them, and a later SQLite ``batch_alter_table`` that rebuilds ``product`` or
``product_variant`` drops them silently: the columns would then go stale without any error."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import text

from .conftest import rows

VERSIONS = Path(__file__).resolve().parents[2] / "src" / "oja" / "migrations" / "versions"


def _listing_migration() -> ModuleType:
    (path,) = VERSIONS.glob("*-c18l00000001_*.py")
    spec = importlib.util.spec_from_file_location("oja_migration_c18l00000001", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MIGRATION = _listing_migration()
# name → the table it is on, as the migration creates them
PG_TRIGGERS = {
    match.group(1): match.group(2)
    for statement in MIGRATION.PG_TRIGGERS
    for match in [re.search(r"CREATE TRIGGER (\w+) .*? ON (\w+)", statement)]
    if match is not None
}
SQLITE_TRIGGERS = {
    name: re.search(r" ON (\w+)", body).group(1)  # type: ignore[union-attr]
    for name, body in MIGRATION.SQLITE_TRIGGERS.items()
}


async def _triggers(app: Any) -> tuple[dict[str, str], dict[str, str]]:
    """(the listing's triggers the migration creates, those the database holds): name → table."""
    if app.state.runtime.database.engine.dialect.name == "postgresql":
        found = await rows(
            app,
            "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND t.tgname LIKE 'product_listing%'",
        )
        return PG_TRIGGERS, {str(name): str(table) for name, table in found}
    found = await rows(
        app,
        "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' "
        "AND name LIKE 'product_listing%'",
    )
    return SQLITE_TRIGGERS, {str(name): str(table) for name, table in found}


def test_the_migration_names_every_listing_trigger() -> None:
    # the parsing above found them all: a change of the migration's text must not empty the check
    assert PG_TRIGGERS == {
        "product_listing_own": "product",
        "product_listing_vendor": "vendor",
        "product_listing_category": "category",
        "product_listing_variant_insert": "product_variant",
        "product_listing_variant_delete": "product_variant",
        "product_listing_variant_update": "product_variant",
    }
    assert SQLITE_TRIGGERS == {
        "product_listing_own_insert": "product",
        "product_listing_own_update": "product",
        "product_listing_vendor": "vendor",
        "product_listing_category": "category",
        "product_listing_variant_insert": "product_variant",
        "product_listing_variant_delete": "product_variant",
        "product_listing_variant_update": "product_variant",
    }


async def test_the_head_schema_holds_every_listing_trigger(app: Any) -> None:
    expected, held = await _triggers(app)
    assert held == expected


async def test_a_dropped_listing_trigger_is_seen(app: Any) -> None:
    """What a table rebuild without its triggers leaves: the check above would fail."""
    postgres = app.state.runtime.database.engine.dialect.name == "postgresql"
    drop = (
        "DROP TRIGGER product_listing_variant_update ON product_variant"
        if postgres
        else "DROP TRIGGER product_listing_variant_update"
    )
    async with app.state.runtime.database.engine.begin() as conn:
        await conn.execute(text(drop))
    try:
        expected, held = await _triggers(app)
        assert set(expected) - set(held) == {"product_listing_variant_update"}
    finally:
        if postgres:  # the session's PostgreSQL database is shared by the tests that follow
            statement = next(
                s for s in MIGRATION.PG_TRIGGERS if "product_listing_variant_update" in s
            )
            async with app.state.runtime.database.engine.begin() as conn:
                await conn.execute(text(statement))


def _recount_migration() -> ModuleType:
    (path,) = VERSIONS.glob("*-c18p00000001_*.py")
    spec = importlib.util.spec_from_file_location("oja_migration_c18p00000001", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RECOUNT = _recount_migration()


async def test_the_price_recount_reads_its_product_s_variants_alone(app: Any) -> None:
    """Issue 18: the recount's old ``deleted_at IS NULL`` condition let PL/pgSQL's plan, made
    while ``product_variant`` looked small, AND a whole partial index ``WHERE deleted_at IS NULL``
    (the live SKUs' unique index) with the ``product_id`` index: every recount read every live
    variant, and a bulk import turned quadratic. The head's recount filters on the product
    alone (liveness in the aggregates) and its plan walks the ``product_id`` index only."""
    if app.state.runtime.database.engine.dialect.name == "postgresql":
        (definition,) = await rows(
            app, "SELECT pg_get_functiondef('product_listing_prices(uuid, integer)'::regprocedure)"
        )
        assert RECOUNT.RECOUNT in definition[0]
        assert RECOUNT.OLD_RECOUNT not in definition[0]
        async with app.state.runtime.database.engine.connect() as conn:
            await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            await conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
            await conn.exec_driver_sql(
                "PREPARE listing_recount(uuid) AS " + RECOUNT.RECOUNT.replace("= pid", "= $1")
            )
            plan = "\n".join(
                str(line)
                for (line,) in (
                    await conn.exec_driver_sql(
                        "EXPLAIN EXECUTE listing_recount('00000000-0000-0000-0000-000000000000')"
                    )
                ).all()
            )
            await conn.exec_driver_sql("DEALLOCATE listing_recount")
        indexes = set(re.findall(r"Index (?:Only )?Scan(?: Backward)? (?:using|on) (\w+)", plan))
        assert indexes == {"ix_product_variant_product_id"}, plan
    else:
        # SQLite plans the trigger's subquery per statement: the product_id index serves it.
        plan = await rows(
            app,
            "EXPLAIN QUERY PLAN SELECT min(v.price), max(v.price) FROM product_variant AS v "
            "WHERE v.product_id = :p AND v.deleted_at IS NULL",
            p="00000000000000000000000000000000",
        )
        assert any("ix_product_variant_product_id" in str(row[-1]) for row in plan), plan
