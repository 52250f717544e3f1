"""Request and response bodies of the billing routes (money in minor units, ISO 4217 currency)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, HttpUrl

PaystackCurrency = Literal["NGN", "GHS", "ZAR", "KES", "USD"]
MinorUnits = Annotated[int, Field(strict=True, gt=0, description="Minor units (kobo, cents).")]


class InitiatePaymentRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    amount: MinorUnits
    email: EmailStr | None = None
    """Payer's email (Paystack requires one); defaults to the account's."""
    currency: PaystackCurrency = "NGN"
    callback_url: HttpUrl | None = None
    metadata: dict[str, Any] | None = Field(default=None, max_length=20)


_STATUS_DOC = "`success`, `failed` or `pending`; Paystack's own word is in `provider_status`."
_PROVIDER_STATUS_DOC = (
    "Paystack's transaction status as Oja last recorded it: `pending` (not yet verified, or "
    "Paystack said `ongoing`, `queued` or `processing`), `abandoned` (the checkout was not "
    "completed), `failed` or `success`."
)


class InitiatePaymentResponse(BaseModel):
    reference: str
    authorization_url: str
    status: Literal["pending", "failed", "success"] = Field(description=_STATUS_DOC)
    provider_status: str = Field(description=_PROVIDER_STATUS_DOC)
    amount: int
    currency: str


class PaymentStatusResponse(BaseModel):
    reference: str
    status: Literal["pending", "failed", "success"] = Field(description=_STATUS_DOC)
    provider_status: str = Field(description=_PROVIDER_STATUS_DOC)
    amount: int
    currency: str
    paid_at: datetime | None
    amount_refunded: int
    flag: str | None = None
    """Set (`amount_mismatch`) when the provider's figures disagree: the payment is not credited."""


class RefundRequest(BaseModel):
    amount: MinorUnits | None = None
    """Part of the payment to refund; the whole remaining amount when omitted."""


class RefundResponse(BaseModel):
    id: str
    reference: str
    amount: int
    currency: str
    status: str
    amount_refunded: int
    """Total refunded on this payment so far, this refund included."""


class WebhookAck(BaseModel):
    status: bool = True


class CheckoutResponse(BaseModel):
    checkout_url: str
    session_id: str


class PortalResponse(BaseModel):
    url: str


class UsageOut(BaseModel):
    prompts_today: int
    daily_limit: int | None
    remaining: int | None
    resets_at: datetime


class SubscriptionStatusResponse(BaseModel):
    tier: Literal["basic", "pro"]
    status: str
    """The provider's subscription status (`active`, `past_due`, `canceled`, …), or `none`."""
    current_period_end: datetime | None
    cancel_at_period_end: bool
    usage: UsageOut


class PlanOut(BaseModel):
    code: str
    name: str
    audience: str
    interval: str | None
    paid: bool
    daily_prompt_limit: int | None
    user_limit: int | None


class PlanList(BaseModel):
    items: list[PlanOut]
