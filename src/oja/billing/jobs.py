"""Billing jobs: process one inbox event; reconcile with the providers periodically."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import structlog

from oja.billing.config import BillingSettings
from oja.core.clock import utcnow
from oja.core.jobs import JobContext, PermanentJobError, job

# The services, the providers' SDKs and the metrics are imported by the jobs that run them: a
# worker process that runs no billing job does not load them (tests/test_process_imports.py).

log = structlog.get_logger("oja.billing")


@job(
    "billing.process_webhook_event",
    timeout=60,
    max_attempts=8,
    subject=("webhook_event", "event_id"),
)
async def process_webhook_event(ctx: JobContext, *, event_id: uuid.UUID) -> dict[str, Any]:
    """Confirm with the provider and apply; a provider outage retries with backoff."""
    from oja.billing.events import Providers, process_event
    from oja.billing.providers.port import ProviderCallRefused, ProviderCallUnavailable

    async with Providers(ctx.runtime.settings.section(BillingSettings)) as ports:
        try:
            outcome = await process_event(ctx.session, event_id, ports)
        except ProviderCallRefused as exc:
            raise PermanentJobError(f"provider refused: {exc}") from exc
        except ProviderCallUnavailable:
            raise  # retried (a 429 too)
    return {"outcome": outcome}


@job(
    "billing.reconcile",
    timeout=240,
    max_attempts=1,
    # Beat's schedule is fixed when it imports this module: the interval is read then.
    periodic=BillingSettings().billing_reconcile_interval,
)
async def reconcile(ctx: JobContext) -> dict[str, Any]:
    """Verify stale pending payments and re-sync live subscriptions; count what had drifted."""
    from oja.billing import repository, service, subscriptions
    from oja.billing.events import Providers
    from oja.billing.metrics import RECONCILE_DRIFT
    from oja.billing.providers.port import ProviderCallError

    settings = ctx.runtime.settings.section(BillingSettings)
    counts = {
        "payments_checked": 0,
        "payments_drifted": 0,
        "subscriptions_checked": 0,
        "subscriptions_drifted": 0,
        "errors": 0,
    }
    session = ctx.session
    async with Providers(settings) as ports:
        configured = {
            "paystack": bool(settings.paystack_secret_key),
            "flutterwave": bool(settings.flutterwave_secret_key),
        }
        if any(configured.values()):
            cutoff = utcnow() - timedelta(minutes=settings.paystack_reconcile_after)
            for reference in await repository.stale_pending_payments(
                session, cutoff, settings.billing_reconcile_batch
            ):
                payment = await repository.payment_by_reference(session, reference)
                if payment is None or not configured.get(payment.provider, False):
                    continue
                counts["payments_checked"] += 1
                source = (
                    ports.flutterwave() if payment.provider == "flutterwave" else ports.paystack()
                )
                try:
                    verified = await source.verify(reference)
                except ProviderCallError as exc:
                    counts["errors"] += 1
                    log.warning(
                        "billing.reconcile.verify_failed", reference=reference, error=str(exc)
                    )
                    continue
                moved = await service.apply_verification(session, payment, verified)
                if moved in ("credited", "moved", "amount_mismatch"):
                    counts["payments_drifted"] += 1
                    RECONCILE_DRIFT.labels(kind="payment").inc()
                    log.warning(
                        "billing.reconcile.payment_drift", reference=reference, outcome=moved
                    )
        if settings.stripe_secret_key:
            for subscription_id in await repository.subscriptions_to_sync(
                session, settings.billing_reconcile_batch
            ):
                counts["subscriptions_checked"] += 1
                try:
                    outcome = await subscriptions.sync_subscription(
                        session, ports.stripe(), subscription_id
                    )
                except ProviderCallError as exc:
                    counts["errors"] += 1
                    log.warning(
                        "billing.reconcile.sync_failed",
                        subscription=subscription_id,
                        error=str(exc),
                    )
                    continue
                if outcome == "updated":
                    counts["subscriptions_drifted"] += 1
                    RECONCILE_DRIFT.labels(kind="subscription").inc()
                    log.warning(
                        "billing.reconcile.subscription_drift", subscription=subscription_id
                    )
    log.info("billing.reconcile.done", **counts)
    return counts
