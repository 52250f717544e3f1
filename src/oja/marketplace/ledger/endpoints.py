"""Money routes: a store's balance and statement (JSON or CSV), a buyer's transaction history."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from oja.billing.endpoints import BillingSettingsDep
from oja.billing.errors import (
    BillingNotConfigured,
    ProviderError,
    ProviderRateLimited,
    ProviderRefused,
    ProviderUnavailable,
)
from oja.core.clock import utcnow
from oja.core.dates import IsoDate, IsoDateTime
from oja.core.dependencies import SessionDep
from oja.core.errors import InvalidRequest, errors
from oja.core.pagination import Page, PageParams, pagination
from oja.identity.dependencies import USER_ERRORS, RequireRole, UserPrincipal
from oja.marketplace.errors import DisputeClosed, DisputeNotFound
from oja.marketplace.ledger import disputes, service
from oja.marketplace.ledger.models import DisputeStatus, EntryType, TransactionKind
from oja.marketplace.ledger.schemas import (
    CSV_COLUMNS,
    BuyerTransactionOut,
    DisputeOut,
    EvidenceIn,
    Granularity,
    LedgerEntryOut,
    RevenueOut,
    StatementFormat,
    StoreBalanceOut,
)
from oja.marketplace.vendors.dependencies import VENDOR_ERRORS, CurrentVendor

router = APIRouter(tags=["marketplace: money"])
vendor_router = APIRouter(prefix="/vendors/me", tags=["marketplace: money"])
admin_router = APIRouter(
    prefix="/admin/disputes", tags=["marketplace: admin"], dependencies=[RequireRole("admin")]
)
revenue_router = APIRouter(
    prefix="/admin/marketplace", tags=["marketplace: admin"], dependencies=[RequireRole("admin")]
)

Paging = Annotated[PageParams, Depends(pagination())]
CSV = "text/csv"


@vendor_router.get(
    "/balance",
    response_model=StoreBalanceOut,
    summary="Your store's balance per currency: pending, available, frozen, paid out, in transit",
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
    created_from: Annotated[IsoDateTime | None, Query(description="Booked at or after.")] = None,
    created_to: Annotated[IsoDateTime | None, Query(description="Booked before.")] = None,
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


@admin_router.get(
    "",
    response_model=Page[DisputeOut],
    summary="Payment disputes, newest first, with the store orders each one froze (admin)",
    responses=errors(*USER_ERRORS, InvalidRequest),
)
async def dispute_list(
    paging: Paging,
    db: SessionDep,
    dispute_status: Annotated[
        DisputeStatus | None, Query(alias="status", description="Only disputes in this state.")
    ] = None,
) -> Page[DisputeOut]:
    return await disputes.admin_disputes(db, dispute_status, paging)


@admin_router.post(
    "/{dispute_id}/evidence",
    response_model=DisputeOut,
    summary="Send the merchant's evidence for an open dispute to the provider (admin)",
    responses=errors(
        *USER_ERRORS,
        InvalidRequest,
        DisputeNotFound,
        DisputeClosed,
        ProviderRefused,
        ProviderRateLimited,
        ProviderError,
        ProviderUnavailable,
        BillingNotConfigured,
    ),
)
async def dispute_evidence(
    dispute_id: uuid.UUID, body: EvidenceIn, db: SessionDep, billing: BillingSettingsDep
) -> DisputeOut:
    return await disputes.submit_evidence(db, dispute_id, body, billing)


@revenue_router.get(
    "/revenue",
    response_model=RevenueOut,
    response_model_by_alias=True,
    summary="Platform commission and provider fees by day or month, from the ledger (admin)",
    responses=errors(*USER_ERRORS, InvalidRequest),
)
async def revenue(
    db: SessionDep,
    since: Annotated[
        IsoDate | None, Query(alias="from", description="First day (UTC); 30 days ago by default.")
    ] = None,
    until: Annotated[
        IsoDate | None,
        Query(alias="to", description="Last day (UTC), inclusive; today by default."),
    ] = None,
    granularity: Annotated[Granularity, Query(description="`day` or `month`.")] = Granularity.day,
) -> RevenueOut:
    until = until or utcnow().date()
    since = since or until - timedelta(days=30)
    if since > until:
        raise InvalidRequest("`from` must not be after `to`.", details={"from": str(since)})
    months = (until.year - since.year) * 12 + until.month - since.month + 1
    length = (until - since).days + 1 if granularity == Granularity.day else months
    most = service.REVENUE_MAX_PERIODS[granularity]
    if length > most:
        raise InvalidRequest(
            f"At most {most} {granularity}s per report.", details={"max_periods": most}
        )
    return await service.revenue(db, since, until, granularity)
