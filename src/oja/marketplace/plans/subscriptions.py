"""A store's paid plan through Paystack Plans + Subscriptions: subscribe, change, cancel, and what
Paystack's verified subscriptions and the clock do to it.

* **Subscribe.** ``POST /vendors/me/subscription`` opens a Paystack checkout initialised with the
  plan's Paystack code (``oja:<code>``, created with ``OJA_VENDOR_PLAN_PRICES`` on first sale).
  Nothing changes on the store until Paystack's ``subscription.create`` arrives in the webhook
  inbox and billing has re-read that subscription from Paystack (verify before value): then the
  plan is active, paid through Paystack's ``next_payment_date``.
* **Upgrade** (a higher user limit, or the same limit for another interval): a new Paystack
  subscription charged on the saved card at once, the old one disabled; the new plan — and its
  limit — apply as soon as the verified ``subscription.create`` arrives. No proration.
* **Downgrade**: a new subscription starting at the end of the paid period, the old one disabled;
  the periodic job switches the plan at that moment. The store keeps what it paid for.
* **Cancel**: the subscription disabled at Paystack; the plan holds until the paid period ends.
* **Renewal** (``invoice.update``/``charge.success`` on the subscription, verified ``active``)
  moves ``paid_through``; a **failed renewal** (verified ``attention``) starts a grace period of
  ``OJA_VENDOR_PLAN_GRACE_DAYS``, after which the periodic job puts the store on the free tier.
  Paying again — Paystack's retry succeeding, or a new checkout — reactivates the plan.

Only the store's own actions that give value back (cancel, downgrade) change the row at once;
everything that grants value waits for a verified subscription.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing import service as billing_service
from oja.billing.config import BillingSettings
from oja.billing.errors import InvalidInput, PaymentInitiationFailed, from_provider
from oja.billing.paystack_subscriptions import PAYSTACK_SUBSCRIPTION_VERIFIED
from oja.billing.plans import PLANS, Audience, Plan
from oja.billing.providers.paystack_plans import PaystackPlansClient, PaystackSubscription
from oja.billing.providers.port import ProviderCallError
from oja.core import events
from oja.core.clock import utcnow
from oja.core.db import current_session
from oja.core.runtime import current_runtime
from oja.identity.models import User
from oja.marketplace.errors import NoPaidPlan, PlanAlreadyActive, PlanUnchanged
from oja.marketplace.plans import repository
from oja.marketplace.plans import service as plans_service
from oja.marketplace.plans.config import VendorPlanSettings
from oja.marketplace.plans.models import SubscriptionStatus, VendorSubscription
from oja.marketplace.plans.schemas import SubscriptionCheckoutOut

log = structlog.get_logger("oja.marketplace.plans")

PAYSTACK_INTERVALS = {"month": "monthly", "year": "annually"}
PERIODS = {"month": timedelta(days=30), "year": timedelta(days=365)}
"""A provisional period length, used only until Paystack's ``next_payment_date`` says better."""
PLAN_PREFIX = "oja:"
DUE_BATCH = 200


def _settings() -> VendorPlanSettings:
    return current_runtime().settings.section(VendorPlanSettings)


def _billing() -> BillingSettings:
    return current_runtime().settings.section(BillingSettings)


def _rank(plan: Plan) -> float:
    return float("inf") if plan.user_limit is None else float(plan.user_limit)


def is_upgrade(current: str, wanted: str) -> bool:
    """A higher limit, or the same limit for another interval, applies at once once paid."""
    return _rank(PLANS[wanted]) >= _rank(PLANS[current])


def our_plan(paystack_name: str) -> str | None:
    """The vendor plan a Paystack plan named ``oja:<code>`` sells; None for any other plan."""
    if not paystack_name.startswith(PLAN_PREFIX):
        return None
    plan = PLANS.get(paystack_name.removeprefix(PLAN_PREFIX))
    return plan.code if plan is not None and plan.audience == Audience.vendor else None


async def _paystack_plan(client: PaystackPlansClient, plan: Plan) -> str:
    """The Paystack plan code selling ``plan`` at today's price, created on first sale."""
    settings = _settings()
    price, currency = settings.plan_prices[plan.code], settings.plan_currency
    interval = PAYSTACK_INTERVALS[str(plan.interval)]
    name = f"{PLAN_PREFIX}{plan.code}"
    for found in await client.plans():
        if (found.name, found.amount, found.interval, found.currency) == (
            name,
            price,
            interval,
            currency,
        ):
            return found.code
    created = await client.create_plan(
        name=name, amount=price, interval=interval, currency=currency
    )
    return created.code


async def start(
    db: AsyncSession, vendor_id: uuid.UUID, user_id: uuid.UUID, plan: str, callback_url: str | None
) -> SubscriptionCheckoutOut:
    row = await repository.subscription_of(db, vendor_id)
    if row is not None and row.status == SubscriptionStatus.active:
        raise PlanAlreadyActive(
            "Your store already has a paid plan: change it with "
            "POST /vendors/me/subscription/change.",
            details={"plan": row.plan},
        )
    user = await db.get(User, user_id)
    if user is None or not user.email:
        raise InvalidInput("An email address is required to pay: add one to your account.")
    billing = _billing()
    async with billing_service.paystack_client(billing) as client:
        try:
            code = await _paystack_plan(client, PLANS[plan])
        except ProviderCallError as exc:
            raise from_provider(exc, refused=PaymentInitiationFailed) from exc
    payment = await billing_service.open_payment(
        db,
        user_id=user_id,
        email=user.email,
        amount=_settings().plan_prices[plan],
        currency=_settings().plan_currency,
        metadata={"vendor_id": str(vendor_id), "vendor_plan": plan},
        callback_url=callback_url,
        request_hash=None,
        settings=billing,
        plan=code,
    )
    await repository.claim(db, vendor_id, plan, user.email)
    log.info("marketplace.plans.checkout", vendor_id=str(vendor_id), plan=plan)
    return SubscriptionCheckoutOut(
        plan=plan,
        reference=payment.reference,
        authorization_url=payment.authorization_url or "",
    )


async def _paid(db: AsyncSession, vendor_id: uuid.UUID) -> VendorSubscription:
    row = await repository.subscription_of(db, vendor_id, lock=True)
    if row is None or row.status != SubscriptionStatus.active or row.subscription_code is None:
        raise NoPaidPlan(
            "Your store has no paid plan: subscribe with POST /vendors/me/subscription."
        )
    return row


async def _disable(client: PaystackPlansClient, code: str) -> None:
    """Disable a Paystack subscription (its token read from Paystack); one already inactive is
    left as it is."""
    found = await client.subscription(code)
    if found.status in ("active", "non-renewing", "attention") and found.email_token:
        await client.disable(code, found.email_token)


async def change(db: AsyncSession, vendor_id: uuid.UUID, plan: str) -> VendorSubscription:
    row = await _paid(db, vendor_id)
    if plan in (row.plan, row.pending_plan):
        raise PlanUnchanged(f"Your store is already on {plan} or moving to it.")
    assert row.subscription_code is not None
    upgrade = is_upgrade(row.plan, plan)
    starts = None if upgrade else (row.current_period_end or utcnow())
    async with billing_service.paystack_client(_billing()) as client:
        try:
            code = await _paystack_plan(client, PLANS[plan])
            if row.pending_subscription_code is not None:
                await _disable(client, row.pending_subscription_code)
            created = await client.subscribe(
                customer=row.customer_email or "",
                plan=code,
                authorization=row.authorization_code,
                start_date=starts,
            )
            await _disable(client, row.subscription_code)
        except ProviderCallError as exc:
            raise from_provider(exc, refused=PaymentInitiationFailed) from exc
    row.pending_plan, row.pending_subscription_code, row.pending_at = plan, created.code, starts
    row.updated_at = utcnow()
    await db.flush()
    await plans_service.invalidate(db, [vendor_id])
    log.info(
        "marketplace.plans.change",
        vendor_id=str(vendor_id),
        plan=plan,
        upgrade=upgrade,
        subscription=created.code,
    )
    return row


async def cancel(db: AsyncSession, vendor_id: uuid.UUID) -> VendorSubscription:
    row = await _paid(db, vendor_id)
    assert row.subscription_code is not None
    async with billing_service.paystack_client(_billing()) as client:
        try:
            for code in (row.pending_subscription_code, row.subscription_code):
                if code is not None:
                    await _disable(client, code)
        except ProviderCallError as exc:
            raise from_provider(exc, refused=PaymentInitiationFailed) from exc
    row.cancel_at_period_end = True
    row.pending_plan = row.pending_subscription_code = row.pending_at = None
    row.updated_at = utcnow()
    await db.flush()
    await plans_service.invalidate(db, [vendor_id])
    return row


# What Paystack's verified subscriptions do (the webhook inbox's unit of work)


def _activate(row: VendorSubscription, plan: str, sub: PaystackSubscription) -> None:
    row.plan, row.status = plan, SubscriptionStatus.active
    row.subscription_code = sub.code
    row.authorization_code = sub.authorization_code or row.authorization_code
    row.customer_email = sub.email.lower() or row.customer_email
    row.current_period_end = sub.next_payment_date or (utcnow() + PERIODS[_interval(plan)])
    row.cancel_at_period_end = False
    row.grace_until = None
    row.pending_plan = row.pending_subscription_code = row.pending_at = None
    row.updated_at = utcnow()


def _interval(plan: str) -> str:
    return str(PLANS[plan].interval)


@events.on(PAYSTACK_SUBSCRIPTION_VERIFIED)
async def on_verified_subscription(
    *, event_type: str, subscription: PaystackSubscription, **_: Any
) -> None:
    db = current_session()
    outcome = await apply_verified(db, event_type, subscription)
    await db.flush()
    vendor_id = await repository.store_of_subscription(db, subscription.code)
    if vendor_id is not None:
        await plans_service.invalidate(db, [vendor_id])
    log.info(
        "marketplace.plans.subscription",
        webhook=event_type,
        subscription=subscription.code,
        status=subscription.status,
        outcome=outcome,
    )


async def apply_verified(db: AsyncSession, event_type: str, sub: PaystackSubscription) -> str:
    """Apply Paystack's own view of a subscription to the store it belongs to; the outcome."""
    plan = our_plan(sub.plan_name)
    if plan is None:
        return "not_a_vendor_plan"
    vendor_id = await repository.store_of_subscription(db, sub.code)
    if vendor_id is None:
        return await _new_subscription(db, sub, plan)
    row = await repository.subscription_of(db, vendor_id, lock=True)
    assert row is not None
    if sub.code == row.pending_subscription_code:
        if row.pending_at is None and sub.status == "active":
            _activate(row, plan, sub)
            return "upgraded"
        return "scheduled"
    if sub.code != row.subscription_code:
        return "stale"
    now = utcnow()
    if sub.status == "active":
        moved = sub.next_payment_date is not None and (
            row.current_period_end is None or sub.next_payment_date > row.current_period_end
        )
        if moved:
            row.current_period_end = sub.next_payment_date
        reactivated = row.status != SubscriptionStatus.active
        row.status, row.grace_until = SubscriptionStatus.active, None
        row.updated_at = now
        return "reactivated" if reactivated else "renewed" if moved else "unchanged"
    if sub.status == "attention":
        if row.grace_until is None and row.status == SubscriptionStatus.active:
            row.grace_until = now + timedelta(days=_settings().plan_grace_days)
            row.updated_at = now
            return "grace_started"
        return "unchanged"
    if sub.status in ("non-renewing", "cancelled", "completed"):
        if not row.cancel_at_period_end:
            row.cancel_at_period_end, row.updated_at = True, now
            return "ends_at_period_end"
        return "unchanged"
    return "ignored_status"


async def _new_subscription(db: AsyncSession, sub: PaystackSubscription, plan: str) -> str:
    """A subscription Oja has not linked yet: the one a store's checkout (or a change whose
    request has not committed yet) created, found by the email the store paid with."""
    if sub.status != "active" or not sub.email:
        return "unknown_subscription"
    vendor_id = await repository.store_of_customer(db, sub.email)
    if vendor_id is None:
        return "unknown_customer"
    row = await repository.subscription_of(db, vendor_id, lock=True)
    assert row is not None
    if row.status == SubscriptionStatus.active and not is_upgrade(row.plan, plan):
        # A downgrade's subscription: it starts when the paid period ends.
        row.pending_plan, row.pending_subscription_code = plan, sub.code
        row.pending_at = row.current_period_end or utcnow()
        row.updated_at = utcnow()
        return "scheduled"
    _activate(row, plan, sub)
    return "activated"


# The clock: scheduled downgrades, canceled periods and grace periods that end


async def apply_due(db: AsyncSession, now: datetime) -> dict[str, int]:
    counts = {"downgraded": 0, "ended": 0, "lapsed": 0}
    vendor_ids = await repository.stores_due(db, now, DUE_BATCH)
    moved: list[uuid.UUID] = []
    for row in await repository.due(db, vendor_ids):
        if row.pending_at is not None and row.pending_at <= now and row.pending_plan is not None:
            plan = row.pending_plan
            row.plan, row.subscription_code = plan, row.pending_subscription_code
            row.current_period_end = row.pending_at + PERIODS[_interval(plan)]
            row.cancel_at_period_end, row.grace_until = False, None
            row.pending_plan = row.pending_subscription_code = row.pending_at = None
            counts["downgraded"] += 1
        elif row.status != SubscriptionStatus.active:
            continue
        elif (
            row.cancel_at_period_end
            and row.current_period_end is not None
            and row.current_period_end <= now
        ):
            row.status = SubscriptionStatus.canceled
            counts["ended"] += 1
        elif row.grace_until is not None and row.grace_until <= now:
            row.status, row.grace_until = SubscriptionStatus.canceled, None
            counts["lapsed"] += 1
        else:
            continue
        row.updated_at = now
        moved.append(row.vendor_id)
        log.info("marketplace.plans.due", vendor_id=str(row.vendor_id), plan=row.plan)
    await db.flush()
    await plans_service.plan_changed(db, moved)
    return counts
