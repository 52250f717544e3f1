"""Money routes: a store's balance and statement (JSON or CSV), a buyer's transaction history."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from oja.core.dependencies import SessionDep
from oja.core.errors import InvalidRequest, errors
from oja.core.pagination import Page, PageParams, pagination
from oja.identity.dependencies import USER_ERRORS, UserPrincipal
from oja.marketplace.ledger import service
from oja.marketplace.ledger.models import EntryType, TransactionKind
from oja.marketplace.ledger.schemas import (
    CSV_COLUMNS,
    BuyerTransactionOut,
    LedgerEntryOut,
    StatementFormat,
    StoreBalanceOut,
)
from oja.marketplace.vendors.dependencies import VENDOR_ERRORS, CurrentVendor

router = APIRouter(tags=["marketplace: money"])
vendor_router = APIRouter(prefix="/vendors/me", tags=["marketplace: money"])

Paging = Annotated[PageParams, Depends(pagination())]
CSV = "text/csv"


@vendor_router.get(
    "/balance",
    response_model=StoreBalanceOut,
    summary="Your store's balance per currency: pending (held) and available",
    responses=errors(*VENDOR_ERRORS),
)
async def balance(vendor: CurrentVendor, db: SessionDep) -> StoreBalanceOut:
    return await service.store_balance(db, vendor.vendor_id)


@vendor_router.get(
    "/ledger",
    response_model=Page[LedgerEntryOut],
    summary="Your store's ledger entries, newest first; every one as CSV with format=csv",
    responses={
        **errors(*VENDOR_ERRORS, InvalidRequest),
        200: {"content": {CSV: {"schema": {"type": "string"}}}},
    },
)
async def ledger(
    *,
    request: Request,
    vendor: CurrentVendor,
    db: SessionDep,
    paging: Paging,
    type: Annotated[EntryType | None, Query(description="Only entries of this type.")] = None,
    created_from: Annotated[datetime | None, Query(description="Booked at or after.")] = None,
    created_to: Annotated[datetime | None, Query(description="Booked before.")] = None,
    format: Annotated[
        StatementFormat | None,
        Query(description="csv: every matching entry as a CSV file (or send Accept: text/csv)."),
    ] = None,
) -> Page[LedgerEntryOut] | Response:
    as_csv = format == StatementFormat.csv or (
        format is None and CSV in request.headers.get("accept", "")
    )
    found = await service.store_ledger(
        db,
        vendor.vendor_id,
        entry_type=type,
        since=created_from,
        until=created_to,
        paging=None if as_csv else paging,
    )
    if isinstance(found, Page):
        return found
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for entry in found:
        row = entry.model_dump(mode="json")
        writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
    return Response(
        out.getvalue(),
        media_type=CSV,
        headers={"Content-Disposition": 'attachment; filename="ledger.csv"'},
    )


@router.get(
    "/transactions",
    response_model=Page[BuyerTransactionOut],
    summary="Your payments and refunds, newest first, with links to their orders",
    responses=errors(*USER_ERRORS, InvalidRequest),
)
async def transactions(
    principal: UserPrincipal,
    db: SessionDep,
    paging: Paging,
    kind: Annotated[TransactionKind | None, Query(description="payment or refund.")] = None,
) -> Page[BuyerTransactionOut]:
    return await service.buyer_transactions(db, principal.user_id, kind, paging)
