"""Billing errors: a stable ``code`` each and an honest status."""

from __future__ import annotations

from typing import ClassVar

from oja.core.errors import (
    BadRequest,
    Conflict,
    ErrorCode,
    NotConfigured,
    NotFound,
    OjaError,
    TooManyRequests,
    UpstreamError,
)


class BillingErrorCode(ErrorCode):
    INVALID_INPUT = "invalid_input"
    PAYMENT_NOT_FOUND = "payment_not_found"
    PAYMENT_INITIATION_FAILED = "payment_initiation_failed"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    PROVIDER_ERROR = "provider_error"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    REFUND_NOT_ALLOWED = "refund_not_allowed"
    REFUND_FAILED = "refund_failed"
    ALREADY_SUBSCRIBED = "already_subscribed"
    NO_SUBSCRIPTION = "no_subscription"
    QUOTA_EXCEEDED = "quota_exceeded"
    INVALID_SIGNATURE = "invalid_signature"
    INVALID_PAYLOAD = "invalid_payload"


class InvalidInput(BadRequest):
    code = BillingErrorCode.INVALID_INPUT


class PaymentNotFound(NotFound):
    code = BillingErrorCode.PAYMENT_NOT_FOUND


class BillingNotConfigured(NotConfigured):
    """Paystack or Stripe lacks a key, secret or price: 503 ``not_configured`` like every module."""


class PaymentInitiationFailed(OjaError):
    """The provider refused to start the payment (402, with the provider's own message)."""

    status_code: ClassVar[int] = 402
    code = BillingErrorCode.PAYMENT_INITIATION_FAILED


class ProviderUnavailable(UpstreamError):
    code = BillingErrorCode.PROVIDER_UNAVAILABLE


class ProviderError(UpstreamError):
    code = BillingErrorCode.PROVIDER_ERROR


class IdempotencyKeyReused(Conflict):
    code = BillingErrorCode.IDEMPOTENCY_KEY_REUSED


class RefundNotAllowed(Conflict):
    code = BillingErrorCode.REFUND_NOT_ALLOWED


class RefundFailed(OjaError):
    status_code: ClassVar[int] = 402
    code = BillingErrorCode.REFUND_FAILED


class AlreadySubscribed(Conflict):
    code = BillingErrorCode.ALREADY_SUBSCRIBED


class NoSubscription(NotFound):
    code = BillingErrorCode.NO_SUBSCRIPTION


class QuotaExceeded(TooManyRequests):
    code = BillingErrorCode.QUOTA_EXCEEDED


class InvalidSignature(BadRequest):
    code = BillingErrorCode.INVALID_SIGNATURE


class InvalidPayload(BadRequest):
    """A correctly signed webhook body that is not an event of the provider's."""

    code = BillingErrorCode.INVALID_PAYLOAD
