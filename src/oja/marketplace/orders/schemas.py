"""Request and response bodies of the order, return and refund routes. Money is integer minor
units in the order's ``currency``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from oja.marketplace.orders.models import (
    OrderGroup,
    OrderLine,
    OrderRefund,
    OrderTransition,
    ReturnLine,
    ReturnRequest,
    StoreOrder,
)

JsonDict = dict[str, JsonValue]
_ID = "01938f6e-7b1a-7c3e-9a55-3f1f0c2d4e5f"
_ID2 = "01938f6e-8c2b-7d4f-8b66-4a2a1d3e5f60"
_AT = "2026-12-06T10:00:00Z"
_SUMMARY: JsonDict = {
    "id": _ID,
    "group_id": _ID2,
    "vendor_id": _ID2,
    "buyer_id": _ID2,
    "status": "shipped",
    "currency": "NGN",
    "subtotal": 450000,
    "discount_total": 0,
    "total": 450000,
    "refunded_amount": 0,
    "carrier": "GIG Logistics",
    "tracking_number": "GIG123",
    "created_at": _AT,
    "confirmed_at": _AT,
    "shipped_at": _AT,
    "delivered_at": None,
    "canceled_at": None,
}
_RETURN: JsonDict = {
    "id": _ID,
    "order_id": _ID2,
    "status": "requested",
    "reason": "Arrived broken",
    "photos": [],
    "decision_note": None,
    "decided_at": None,
    "received_at": None,
    "created_at": _AT,
    "lines": [{"order_line_id": _ID2, "quantity": 1, "amount": 150000, "restock": None}],
    "amount": 150000,
}


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class OrderLineOut(_Out):
    id: uuid.UUID
    product_id: uuid.UUID | None
    variant_id: uuid.UUID | None
    title: str
    sku: str
    options: dict[str, Any]
    quantity: int
    unit_price: int
    unit_discount: int
    tax: int
    line_total: int
    returned_quantity: int = Field(description="Units in return requests not rejected.")


class TransitionOut(_Out):
    from_status: str | None
    to_status: str
    actor_id: uuid.UUID | None
    note: str | None
    created_at: datetime


class RefundOut(_Out):
    id: uuid.UUID
    source: str = Field(description="`cancellation` or `return`.")
    source_id: uuid.UUID
    amount: int
    currency: str
    status: str = Field(description="pending, processing, processed, failed or needs_attention.")
    processed_at: datetime | None
    created_at: datetime


class ReturnLineOut(_Out):
    order_line_id: uuid.UUID
    quantity: int
    amount: int
    restock: bool | None


class ReturnOut(_Out):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_RETURN]})

    id: uuid.UUID
    order_id: uuid.UUID
    status: str = Field(description="requested, approved, rejected or received.")
    reason: str
    photos: list[Any]
    decision_note: str | None
    decided_at: datetime | None
    received_at: datetime | None
    created_at: datetime
    lines: list[ReturnLineOut]
    amount: int = Field(description="What these units were paid: the refund when received.")

    @classmethod
    def build(cls, request: ReturnRequest, lines: list[ReturnLine]) -> ReturnOut:
        return cls.model_validate(
            {
                **{k: getattr(request, k) for k in cls.model_fields if hasattr(request, k)},
                "lines": [ReturnLineOut.model_validate(line) for line in lines],
                "amount": sum(line.amount for line in lines),
            }
        )


class StoreOrderSummary(_Out):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_SUMMARY]})

    id: uuid.UUID
    group_id: uuid.UUID
    vendor_id: uuid.UUID
    buyer_id: uuid.UUID
    status: str
    currency: str
    subtotal: int
    discount_total: int
    total: int
    refunded_amount: int
    carrier: str | None
    tracking_number: str | None
    created_at: datetime
    confirmed_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    canceled_at: datetime | None


class StoreOrderOut(StoreOrderSummary):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    **_SUMMARY,
                    "cancel_reason": None,
                    "lines": [],
                    "transitions": [
                        {
                            "from_status": "confirmed",
                            "to_status": "shipped",
                            "actor_id": _ID2,
                            "note": None,
                            "created_at": _AT,
                        }
                    ],
                    "refunds": [],
                    "returns": [],
                }
            ]
        },
    )

    cancel_reason: str | None
    lines: list[OrderLineOut]
    transitions: list[TransitionOut]
    refunds: list[RefundOut]
    returns: list[ReturnOut]

    @classmethod
    def build(
        cls,
        order: StoreOrder,
        lines: list[OrderLine],
        transitions: list[OrderTransition],
        refunds: list[OrderRefund],
        returns: list[ReturnOut],
    ) -> StoreOrderOut:
        return cls.model_validate(
            {
                **StoreOrderSummary.model_validate(order).model_dump(),
                "cancel_reason": order.cancel_reason,
                "lines": [OrderLineOut.model_validate(line) for line in lines],
                "transitions": [TransitionOut.model_validate(t) for t in transitions],
                "refunds": [RefundOut.model_validate(r) for r in refunds],
                "returns": returns,
            }
        )


class OrderGroupOut(_Out):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _ID2,
                    "status": "paid",
                    "currency": "NGN",
                    "subtotal": 450000,
                    "discount_total": 0,
                    "total": 450000,
                    "provider": "paystack",
                    "payment_reference": "oja_01938f6e",
                    "created_at": _AT,
                    "paid_at": _AT,
                    "orders": [_SUMMARY],
                }
            ]
        },
    )

    id: uuid.UUID
    status: str = Field(description="awaiting_payment, paid, flagged, expired or canceled.")
    currency: str
    subtotal: int
    discount_total: int
    total: int
    provider: str
    payment_reference: str | None = Field(description="The current payment attempt's reference.")
    failure_reason: str | None = Field(
        default=None,
        description="Why the current payment attempt failed, in the provider's words; pay again "
        "with `POST /order-groups/{id}/pay` before the reservation expires.",
    )
    created_at: datetime
    paid_at: datetime | None
    orders: list[StoreOrderSummary]

    @classmethod
    def build(cls, group: OrderGroup, orders: list[StoreOrder]) -> OrderGroupOut:
        return cls.model_validate(
            {
                **{k: getattr(group, k) for k in cls.model_fields if k != "orders"},
                "orders": [StoreOrderSummary.model_validate(o) for o in orders],
            }
        )


class CancelRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "Ordered the wrong size"}]}
    )

    reason: str | None = Field(default=None, min_length=1, max_length=500)


class VendorCancelRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "sold out"}]}
    )

    reason: str = Field(min_length=1, max_length=500)


class ShipRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"carrier": "GIG Logistics", "tracking_number": "GIG123"}]},
    )

    carrier: str = Field(min_length=1, max_length=100)
    tracking_number: str = Field(min_length=1, max_length=100)
    note: str | None = Field(default=None, max_length=1000)


class NoteRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"note": "Refund once it is back"}]}
    )

    note: str | None = Field(default=None, min_length=1, max_length=1000)


class ReturnLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_line_id: uuid.UUID
    quantity: int = Field(ge=1, le=100_000)


class ReturnCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"lines": [{"order_line_id": _ID, "quantity": 1}], "reason": "Arrived broken"}
            ]
        },
    )

    lines: list[ReturnLineIn] = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=1000)
    photos: list[uuid.UUID] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def distinct_lines(self) -> Self:
        ids = [line.order_line_id for line in self.lines]
        if len(set(ids)) != len(ids):
            raise ValueError("name each order line once")
        return self


class ReceivedLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_line_id: uuid.UUID
    restock: bool = True


class ReceiveRequest(BaseModel):
    """Goods back. Lines not named are restocked (``restock`` defaults to true)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"lines": [{"order_line_id": _ID, "restock": False}]}]},
    )

    lines: list[ReceivedLine] = Field(default_factory=list, max_length=100)
    note: str | None = Field(default=None, min_length=1, max_length=1000)
