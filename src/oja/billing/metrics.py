"""Billing counters, exported on ``/metrics`` with the kernel's registry."""

from __future__ import annotations

from prometheus_client import Counter

from oja.core.metrics import REGISTRY

WEBHOOKS = Counter(
    "oja_billing_webhooks_total",
    "Webhook deliveries by provider and outcome (stored, duplicate, rejected).",
    ["provider", "outcome"],
    registry=REGISTRY,
)
RECONCILE_DRIFT = Counter(
    "oja_billing_reconcile_drift_total",
    "Rows the reconciler found out of step with the provider and corrected, by kind.",
    ["kind"],
    registry=REGISTRY,
)
