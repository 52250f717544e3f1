"""Sales report and store performance answers. Money is integer minor units with its currency."""

from __future__ import annotations

import enum
import uuid
from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class Granularity(enum.StrEnum):
    day = "day"
    week = "week"
    """ISO weeks, Monday to Sunday (the first and last are cut to the range)."""
    month = "month"


class ReportFormat(enum.StrEnum):
    json = "json"
    csv = "csv"


class CurrencyFigures(BaseModel):
    currency: str = Field(examples=["NGN"])
    gross_sales: int = Field(description="Paid orders' lines before discounts, tax included.")
    discounts: int
    refunds: int = Field(description="Refunds booked in the period (cancellations and returns).")
    net_sales: int = Field(description="gross_sales − discounts − refunds.")
    commission: int = Field(
        description="Commission on the period's sales less what refunds gave back."
    )
    net_payable: int = Field(description="net_sales − commission: the store's share.")
    orders: int = Field(description="Store orders paid in the period.")
    units: int
    average_order_value: int = Field(
        description="(gross_sales − discounts) ÷ orders, rounded down; 0 without orders."
    )
    canceled: int = Field(description="Paid store orders canceled in the period.")
    returned: int = Field(description="Returns whose goods were received in the period.")
    returned_units: int


class ReportBucket(BaseModel):
    start: date
    end: date = Field(description="The bucket's last day (inclusive).")
    visitors: int = Field(
        description="Distinct visitors of the store's products per day, summed over the bucket."
    )
    sales: list[CurrencyFigures] = Field(description="One entry per currency sold in.")


class TopProduct(BaseModel):
    product_id: uuid.UUID
    title: str | None = Field(description="None when the product was deleted.")
    currency: str
    units: int
    revenue: int = Field(description="Line totals as sold.")


class TopCategory(BaseModel):
    category_id: uuid.UUID | None = Field(description="None for products without a category.")
    name: str | None
    currency: str
    units: int
    revenue: int


class SalesReportOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "from": "2026-12-01",
                    "to": "2026-12-01",
                    "granularity": "day",
                    "tz": "Africa/Lagos",
                    "totals": {
                        "start": "2026-12-01",
                        "end": "2026-12-01",
                        "visitors": 40,
                        "sales": [
                            {
                                "currency": "NGN",
                                "gross_sales": 500000,
                                "discounts": 20000,
                                "refunds": 10000,
                                "net_sales": 470000,
                                "commission": 47000,
                                "net_payable": 423000,
                                "orders": 4,
                                "units": 6,
                                "average_order_value": 120000,
                                "canceled": 0,
                                "returned": 1,
                                "returned_units": 1,
                            }
                        ],
                    },
                    "buckets": [],
                    "top_products": [
                        {
                            "product_id": "01939a8e-7c1a-7cc4-9d52-4f7f0b0e6c11",
                            "title": "Ankara tote",
                            "currency": "NGN",
                            "units": 3,
                            "revenue": 300000,
                        }
                    ],
                    "top_categories": [
                        {
                            "category_id": "01939a8e-7b00-7aa1-8c3e-2b1f4c5d6e7f",
                            "name": "Bags",
                            "currency": "NGN",
                            "units": 3,
                            "revenue": 300000,
                        }
                    ],
                }
            ]
        },
        populate_by_name=True,
    )

    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    granularity: Granularity
    tz: str
    totals: ReportBucket = Field(description="The whole range as one bucket.")
    buckets: list[ReportBucket]
    top_products: list[TopProduct] = Field(description="By revenue, per currency.")
    top_categories: list[TopCategory] = Field(description="By revenue, per currency.")


CSV_COLUMNS = (
    "start",
    "end",
    "currency",
    "gross_sales",
    "discounts",
    "refunds",
    "net_sales",
    "commission",
    "net_payable",
    "orders",
    "units",
    "average_order_value",
    "canceled",
    "returned",
    "returned_units",
    "visitors",
)


class PerformanceOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "vendor_id": "01939a8e-7c1a-7cc4-9d52-4f7f0b0e6c11",
                    "name": "Ada's Shop",
                    "from": "2026-11-07",
                    "to": "2026-12-06",
                    "visitors": 1200,
                    "orders": 36,
                    "conversion": 0.03,
                    "fulfilment_hours_p50": 20.5,
                    "fulfilment_hours_p90": 47.0,
                    "cancellation_rate": 0.028,
                    "return_rate": 0.056,
                    "on_time_rate": 0.94,
                    "average_rating": 4.4,
                    "reviews": 52,
                    "review_response_hours_p50": 6.0,
                    "below_threshold": False,
                    "failed_thresholds": [],
                }
            ]
        },
        populate_by_name=True,
    )

    vendor_id: uuid.UUID
    name: str
    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    visitors: int = Field(description="Distinct visitors per day, summed over the window.")
    orders: int = Field(description="Store orders paid in the window.")
    conversion: float | None = Field(description="orders ÷ visitors; None without visitors.")
    fulfilment_hours_p50: float | None = Field(
        description="Median hours from confirmed to shipped of the orders shipped in the window."
    )
    fulfilment_hours_p90: float | None
    cancellation_rate: float | None = Field(description="Paid orders canceled ÷ orders paid.")
    return_rate: float | None = Field(description="Returns received ÷ orders paid.")
    on_time_rate: float | None = Field(
        description="Orders delivered in the window within OJA_REPORTS_ON_TIME_DAYS of their "
        "confirmation ÷ orders delivered in the window."
    )
    average_rating: float | None = Field(description="Of every published review of the store.")
    reviews: int
    review_response_hours_p50: float | None = Field(
        description="Median hours from a review to the store's reply, of replies in the window."
    )
    below_threshold: bool = Field(
        description="Whether any figure is past its operator-set threshold (OJA_REPORTS_MIN_*, "
        "OJA_REPORTS_MAX_*); figures without data never fail."
    )
    failed_thresholds: list[str] = Field(description="The figures past their threshold.")


class PerformanceSort(enum.StrEnum):
    name = "name"
    orders = "orders"
    visitors = "visitors"
    conversion = "conversion"
    fulfilment_hours_p50 = "fulfilment_hours_p50"
    fulfilment_hours_p90 = "fulfilment_hours_p90"
    cancellation_rate = "cancellation_rate"
    return_rate = "return_rate"
    on_time_rate = "on_time_rate"
    average_rating = "average_rating"
    review_response_hours_p50 = "review_response_hours_p50"


class SortOrder(enum.StrEnum):
    asc = "asc"
    desc = "desc"
