"""Billing errors: a stable ``code`` each and an honest status."""

from __future__ import annotations

from typing import ClassVar

from oja.core.errors import (
    BadRequest,
    Conflict,
    NotConfigured,
    NotFound,
    OjaError,
    TooManyRequests,
    UpstreamError,
)


class InvalidInput(BadRequest):
    code = "invalid_input"


class PaymentNotFound(NotFound):
    code = "payment_not_found"


class BillingNotConfigured(NotConfigured):
    """Paystack or Stripe lacks a key, secret or price: 503 ``not_configured`` like every module."""


class PaymentInitiationFailed(OjaError):
    """The provider refused to start the payment (402, with the provider's own message)."""

    status_code: ClassVar[int] = 402
    code = "payment_initiation_failed"


class ProviderUnavailable(UpstreamError):
    code = "provider_unavailable"


class ProviderError(UpstreamError):
    code = "provider_error"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"


class RefundNotAllowed(Conflict):
    code = "refund_not_allowed"


class RefundFailed(OjaError):
    status_code: ClassVar[int] = 402
    code = "refund_failed"


class AlreadySubscribed(Conflict):
    code = "already_subscribed"


class NoSubscription(NotFound):
    code = "no_subscription"


class QuotaExceeded(TooManyRequests):
    code = "quota_exceeded"


class InvalidSignature(BadRequest):
    code = "invalid_signature"
