"""Billing errors: a stable ``code`` each and an honest status."""

from __future__ import annotations

import math
from typing import ClassVar

import structlog

from oja.billing.providers.port import (
    ProviderCallError,
    ProviderCallRateLimited,
    ProviderCallUnavailable,
)
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

log = structlog.get_logger("oja.billing")


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
    PROVIDER_REFUSED = "provider_refused"
    PROVIDER_RATE_LIMITED = "provider_rate_limited"


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


class ProviderRefused(OjaError):
    """The provider declined the request (a 4xx): its own message, retrying cannot help."""

    status_code: ClassVar[int] = 422
    code = BillingErrorCode.PROVIDER_REFUSED


class ProviderRateLimited(TooManyRequests):
    """The provider is rate limiting this server: retry after ``Retry-After`` seconds."""

    code = BillingErrorCode.PROVIDER_RATE_LIMITED


PROVIDER_LABELS = {"paystack": "Paystack", "flutterwave": "Flutterwave", "stripe": "Stripe"}


def from_provider(exc: ProviderCallError, *, refused: type[OjaError] = ProviderRefused) -> OjaError:
    """The one translation of a provider-call failure into Oja's errors.

    429 → :class:`ProviderRateLimited` (with ``Retry-After``); 5xx, timeouts, unreadable answers →
    :class:`ProviderUnavailable` (retryable); our own credentials refused (401/403) →
    :class:`ProviderError` (a server fault, logged, the provider's text not shown); any other refusal →
    ``refused`` (:class:`ProviderRefused` unless the caller names its own, e.g.
    :class:`PaymentInitiationFailed`) carrying the provider's message.
    """
    label = PROVIDER_LABELS.get(exc.provider, exc.provider)
    details: dict[str, object] = {"provider": exc.provider}
    if isinstance(exc, ProviderCallRateLimited):
        headers = None
        if exc.retry_after is not None:
            details["retry_after"] = exc.retry_after
            headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
        return ProviderRateLimited(
            f"{label} is rate limiting this server; try again later.",
            details=details,
            headers=headers,
        )
    if isinstance(exc, ProviderCallUnavailable):
        return ProviderUnavailable(f"{label} is unavailable: {exc.message}", details=details)
    if exc.status_code in (401, 403):
        log.error("billing.provider.auth_refused", provider=exc.provider, status=exc.status_code)
        return ProviderError(
            "The payment provider refused this server's credentials.", details=details
        )
    if exc.provider_code:
        details["provider_code"] = exc.provider_code
    return refused(exc.message, details=details)
