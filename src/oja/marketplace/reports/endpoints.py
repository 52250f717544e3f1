"""Report routes: a store's sales report (JSON or CSV) and performance, and every store's
performance for the admin."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from oja.core.dependencies import SessionDep
from oja.core.errors import InvalidRequest, errors
from oja.core.pagination import Page, PageParams, pagination
from oja.identity.dependencies import USER_ERRORS, RequireRole
from oja.marketplace.errors import ReportRangeInvalid, UnknownTimeZone
from oja.marketplace.reports import service
from oja.marketplace.reports.config import ReportSettingsDep
from oja.marketplace.reports.schemas import (
    CSV_COLUMNS,
    Granularity,
    PerformanceOut,
    PerformanceSort,
    ReportFormat,
    SalesReportOut,
    SortOrder,
)
from oja.marketplace.vendors.dependencies import VENDOR_ERRORS, CurrentVendor

router = APIRouter(prefix="/vendors/me", tags=["marketplace: reports"])
admin_router = APIRouter(
    prefix="/admin/vendors", tags=["marketplace: admin"], dependencies=[RequireRole("admin")]
)

CSV = "text/csv"


def _csv_lines(report: SalesReportOut) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out)

    def flush() -> str:
        text = out.getvalue()
        out.seek(0)
        out.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    for bucket in report.buckets:
        for figures in bucket.sales or []:
            row = {"start": bucket.start, "end": bucket.end, "visitors": bucket.visitors}
            row |= figures.model_dump()
            writer.writerow([row[c] for c in CSV_COLUMNS])
            yield flush()


@router.get(
    "/reports/sales",
    response_model=SalesReportOut,
    summary="Your store's sales per day, week or month, with top products and categories; "
    "a CSV with format=csv",
    responses={
        **errors(*VENDOR_ERRORS, ReportRangeInvalid, UnknownTimeZone, InvalidRequest),
        200: {"content": {CSV: {"schema": {"type": "string"}}}},
    },
)
async def sales_report(
    *,
    request: Request,
    vendor: CurrentVendor,
    db: SessionDep,
    settings: ReportSettingsDep,
    from_: Annotated[date, Query(alias="from", description="First day (inclusive), in tz.")],
    to: Annotated[date, Query(description="Last day (inclusive), in tz.")],
    granularity: Annotated[Granularity, Query(description="Bucket size.")] = Granularity.day,
    tz: Annotated[
        str | None,
        Query(
            max_length=64,
            description="IANA time zone of the days; the store's own zone by default.",
        ),
    ] = None,
    format: Annotated[
        ReportFormat | None,
        Query(description="csv: one row per bucket and currency (or send Accept: text/csv)."),
    ] = None,
) -> SalesReportOut | StreamingResponse:
    report = await service.sales_report(
        db,
        vendor.vendor_id,
        first=from_,
        last=to,
        granularity=granularity,
        tz=tz,
        settings=settings,
    )
    as_csv = format == ReportFormat.csv or (
        format is None and CSV in request.headers.get("accept", "")
    )
    if not as_csv:
        return report
    return StreamingResponse(
        _csv_lines(report),
        media_type=CSV,
        headers={"Content-Disposition": 'attachment; filename="sales.csv"'},
    )


@router.get(
    "/performance",
    response_model=PerformanceOut,
    summary="Your store's conversion, fulfilment, cancellations, returns, delivery, rating and "
    "review replies over the last OJA_REPORTS_PERFORMANCE_DAYS days",
    responses=errors(*VENDOR_ERRORS),
)
async def my_performance(
    vendor: CurrentVendor, db: SessionDep, settings: ReportSettingsDep
) -> PerformanceOut:
    return await service.store_performance(db, vendor.vendor_id, settings)


@admin_router.get(
    "/performance",
    response_model=Page[PerformanceOut],
    summary="Every approved store's performance, sorted, with stores below the thresholds "
    "flagged (admin)",
    responses=errors(*USER_ERRORS, InvalidRequest),
)
async def stores_performance(
    db: SessionDep,
    settings: ReportSettingsDep,
    paging: Annotated[PageParams, Depends(pagination())],
    sort: Annotated[PerformanceSort, Query(description="The figure to sort by.")] = (
        PerformanceSort.name
    ),
    order: Annotated[SortOrder, Query(description="asc or desc; stores without it last.")] = (
        SortOrder.asc
    ),
) -> Page[PerformanceOut]:
    return await service.all_performance(db, settings, sort=sort, order=order, paging=paging)
