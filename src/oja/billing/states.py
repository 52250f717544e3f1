"""The payment state machine: statuses only move forward, so replays and reordering are harmless.

``pending → abandoned → failed → success`` is a rank order and every allowed transition raises the
rank: whatever order verified states arrive in, a row ends at the highest one it was shown, and
``success`` is final. Refunds are tracked beside the status (``amount_refunded``), not by
downgrading it.

Clients see three values, ``success|failed|pending`` (:func:`public_status`), and the stored word
beside them.
"""

from __future__ import annotations

from typing import Literal

PaymentStatus = Literal["pending", "abandoned", "failed", "success"]
PAYMENT_STATUSES: tuple[PaymentStatus, ...] = ("pending", "abandoned", "failed", "success")
_RANK: dict[str, int] = {status: rank for rank, status in enumerate(PAYMENT_STATUSES)}


ClientPaymentStatus = Literal["pending", "failed", "success"]


def public_status(status: str) -> ClientPaymentStatus:
    """What a client is told: ``success|failed|pending``, never the provider's own word.

    ``abandoned`` is pending to a client: Paystack reports every checkout the payer has not
    completed that way, including one still open in the payer's browser, and such a payment can
    still succeed (the reconciler keeps verifying it). Only Paystack's ``failed`` is a failure.
    """
    match status:
        case "success":
            return "success"
        case "failed":
            return "failed"
        case _:
            return "pending"


def can_move(current: str, target: str) -> bool:
    return _RANK[target] > _RANK[current]


def sources_of(target: str) -> tuple[str, ...]:
    """Statuses from which a row may move to ``target`` (the WHERE of the conditional UPDATE)."""
    return tuple(s for s in PAYMENT_STATUSES if _RANK[s] < _RANK[target])


def from_paystack(status: str) -> PaymentStatus | None:
    """Paystack's transaction status as ours; None when it says nothing final yet."""
    match status:
        case "success":
            return "success"
        case "failed":
            return "failed"
        case "abandoned":
            return "abandoned"
        case _:  # ongoing, pending, processing, queued, reversed: no transition
            return None


SUBSCRIPTION_ENTITLED = frozenset({"active", "trialing"})
"""Stripe subscription statuses that grant the paid tier."""
