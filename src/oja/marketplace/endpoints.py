"""Every marketplace router, for :func:`oja.api.include_routers`."""

from __future__ import annotations

from fastapi import APIRouter

from oja.marketplace.aliexpress.endpoints import admin_router as aliexpress_admin_router
from oja.marketplace.aliexpress.endpoints import router as aliexpress_router
from oja.marketplace.cart.endpoints import router as cart_router
from oja.marketplace.catalog.endpoints import category_router, product_router
from oja.marketplace.checkout.endpoints import router as checkout_router
from oja.marketplace.imports.endpoints import router as imports_router
from oja.marketplace.inventory.endpoints import router as inventory_router
from oja.marketplace.ledger.endpoints import admin_router as dispute_admin_router
from oja.marketplace.ledger.endpoints import revenue_router
from oja.marketplace.ledger.endpoints import router as money_router
from oja.marketplace.ledger.endpoints import vendor_router as store_money_router
from oja.marketplace.orders.endpoints import router as order_router
from oja.marketplace.orders.endpoints import vendor_router as store_order_router
from oja.marketplace.payouts.endpoints import admin_router as payout_admin_router
from oja.marketplace.payouts.endpoints import vendor_router as store_payout_router
from oja.marketplace.plans.endpoints import admin_router as plans_admin_router
from oja.marketplace.plans.endpoints import router as plans_router
from oja.marketplace.pricing.endpoints import router as pricing_router
from oja.marketplace.recommendations.endpoints import router as recommendation_router
from oja.marketplace.reports.endpoints import admin_router as report_admin_router
from oja.marketplace.reports.endpoints import router as report_router
from oja.marketplace.reviews.endpoints import admin_router as review_admin_router
from oja.marketplace.reviews.endpoints import router as review_router
from oja.marketplace.search.endpoints import router as search_router
from oja.marketplace.vendors.endpoints import admin_router as vendor_admin_router
from oja.marketplace.vendors.endpoints import router as vendor_router

# The inventory router first: its /vendors/me/inventory must win over /vendors/{id_or_slug}.
routers: list[APIRouter] = [
    inventory_router,
    store_money_router,
    store_payout_router,
    pricing_router,
    plans_router,
    plans_admin_router,
    report_router,
    report_admin_router,
    vendor_router,
    vendor_admin_router,
    payout_admin_router,
    category_router,
    product_router,
    order_router,
    store_order_router,
    imports_router,
    aliexpress_router,
    aliexpress_admin_router,
    cart_router,
    checkout_router,
    review_router,
    review_admin_router,
    recommendation_router,
    search_router,
    money_router,
    dispute_admin_router,
    revenue_router,
]
