"""Every statement a vendor route runs on a vendor-owned table filters on ``vendor_id``."""

from __future__ import annotations

from typing import Any

import httpx

from oja.marketplace.tenancy import vendor_owned_tables

from . import world as matrix
from .scoping import statement_log, unscoped_tables


def test_vendor_owned_tables_are_declared() -> None:
    assert {
        "vendor_member",
        "vendor_status_change",
        "product",
        "product_variant",
        "stock_movement",
        "price_change",
        "product_import",
        "product_import_row",
        "product_handle",
    } <= vendor_owned_tables()


def test_the_check_catches_an_unscoped_statement() -> None:
    assert unscoped_tables("SELECT product.id FROM product WHERE product.id = ?") == ["product"]
    assert unscoped_tables(
        "UPDATE product_variant SET stock=(product_variant.stock + ?) WHERE product_variant.id = ?"
    ) == ["product_variant"]
    assert unscoped_tables("DELETE FROM price_change WHERE price_change.id = $1") == [
        "price_change"
    ]
    assert unscoped_tables(
        "SELECT * FROM product JOIN product_variant ON product_variant.product_id = product.id "
        "WHERE product.vendor_id = ?"
    ) == ["product_variant"]
    # A filter on a similarly named table does not count for another.
    assert unscoped_tables(
        "SELECT * FROM product_variant WHERE product_variant_x.vendor_id = ?"
    ) == ["product_variant"]
    assert unscoped_tables("SELECT count(*) FROM stock_movement") == ["stock_movement"]
    # The tenant-resolution exception covers reading a membership, not changing one.
    assert unscoped_tables("DELETE FROM vendor_member WHERE vendor_member.user_id = ?") == [
        "vendor_member"
    ]


def test_the_check_passes_scoped_statements() -> None:
    assert (
        unscoped_tables(
            "SELECT product.id FROM product WHERE product.vendor_id = ? AND product.id = ?"
        )
        == []
    )
    assert unscoped_tables('UPDATE "product_variant" SET stock=? WHERE vendor_id = $1') == []
    assert unscoped_tables("INSERT INTO product (id, vendor_id) VALUES (?, ?)") == []
    assert unscoped_tables("SELECT vendor.id FROM vendor WHERE vendor.slug = ?") == []
    # Finding the caller's store is by user.
    assert (
        unscoped_tables(
            "SELECT vendor_member.role FROM vendor_member JOIN vendor ON vendor.id = "
            "vendor_member.vendor_id WHERE vendor_member.user_id = ?"
        )
        == []
    )


async def test_vendor_routes_scope_every_statement(app: Any, client: httpx.AsyncClient) -> None:
    world = await matrix.build(app, client)
    await matrix.add_orders(app, client, world)
    await matrix.with_review(app, client, world)
    everything = (
        matrix.vendor_cases(world)
        + matrix.catalog_cases(world)
        + matrix.order_cases(world)
        + matrix.import_cases(world)
        + matrix.review_cases(world)
    )
    cases = [case for case in everything if case.vendor_route]
    with statement_log(app.state.runtime.database.engine) as log:
        for case in cases:
            for who in sorted(matrix.VENDORS):
                with log.on():
                    await matrix.call(client, world, case, who)
    touched = [sql for sql in log.statements if any(t in sql for t in vendor_owned_tables())]
    assert len(touched) >= len(cases)  # the check saw the statements it is about
    assert log.unscoped() == []
