"""Every marketplace router, for :func:`oja.api.include_routers`."""

from __future__ import annotations

from fastapi import APIRouter

from oja.marketplace.catalog.endpoints import category_router, product_router
from oja.marketplace.inventory.endpoints import router as inventory_router
from oja.marketplace.pricing.endpoints import router as pricing_router
from oja.marketplace.search.endpoints import router as search_router
from oja.marketplace.vendors.endpoints import admin_router as vendor_admin_router
from oja.marketplace.vendors.endpoints import router as vendor_router

# The inventory router first: its /vendors/me/inventory must win over /vendors/{id_or_slug}.
routers: list[APIRouter] = [
    inventory_router,
    pricing_router,
    vendor_router,
    vendor_admin_router,
    category_router,
    product_router,
    search_router,
]
