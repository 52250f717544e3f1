"""Every marketplace router, for :func:`oja.api.include_routers`."""

from __future__ import annotations

from fastapi import APIRouter

from oja.marketplace.vendors.endpoints import admin_router as vendor_admin_router
from oja.marketplace.vendors.endpoints import router as vendor_router

routers: list[APIRouter] = [vendor_router, vendor_admin_router]
