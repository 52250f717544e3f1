"""Stripe subscriptions: checkout, cancel at period end, billing portal, and syncing from Stripe.

The stored subscription is a copy of the provider's latest object: every webhook makes the worker
retrieve the subscription from Stripe and store what it says, so events may arrive in any order,
any number of times. The row is locked while it is re-read, so two syncs cannot store an older
answer over a newer one (PostgreSQL; SQLite has one writer at a time anyway).
"""

from __future__ import annotations

import uuid
from typing import Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing import repository
from oja.billing.config import BillingSettings
from oja.billing.errors import (
    AlreadySubscribed,
    BillingNotConfigured,
    NoSubscription,
    PaymentInitiationFailed,
    from_provider,
)
from oja.billing.models import BillingCustomer, Subscription
from oja.billing.plans import CHAT_PRO
from oja.billing.providers.port import ProviderCallError
from oja.billing.providers.stripe import (
    CheckoutSession,
    StripeGateway,
    SubscriptionState,
)
from oja.billing.service import entitlements
from oja.billing.states import SUBSCRIPTION_ENTITLED
from oja.core.clock import utcnow
from oja.core.ids import uuid7
from oja.identity.models import User

log = structlog.get_logger("oja.billing")


class SubscriptionSource(Protocol):
    async def retrieve_subscription(self, subscription_id: str) -> SubscriptionState: ...


def stripe_gateway(settings: BillingSettings) -> StripeGateway:
    if not settings.stripe_secret_key:
        raise BillingNotConfigured(
            "Stripe is not configured on this server: set OJA_STRIPE_SECRET_KEY.",
            feature="stripe",
            settings=["OJA_STRIPE_SECRET_KEY"],
        )
    return StripeGateway(secret_key=settings.stripe_secret_key, api_base=settings.stripe_api_base)


async def start_pro_checkout(
    session: AsyncSession, user: User, idempotency_key: str | None, settings: BillingSettings
) -> CheckoutSession:
    if not settings.stripe_pro_price_id:
        raise BillingNotConfigured(
            "The Pro plan has no Stripe price on this server: set OJA_STRIPE_PRO_PRICE_ID.",
            feature="stripe",
            settings=["OJA_STRIPE_PRO_PRICE_ID"],
        )
    current = await entitlements(session, user.id)
    if current.tier == "pro":
        raise AlreadySubscribed("You already have an active Pro subscription.")
    async with stripe_gateway(settings) as gateway:
        try:
            customer_id = await _customer_id(session, gateway, user)
            return await gateway.create_checkout_session(
                customer_id=customer_id,
                price_id=settings.stripe_pro_price_id,
                user_id=str(user.id),
                success_url=settings.stripe_success_url,
                cancel_url=settings.stripe_cancel_url,
                idempotency_key=f"oja-checkout-{user.id}-{idempotency_key}"
                if idempotency_key
                else None,
            )
        except ProviderCallError as exc:
            raise from_provider(exc, refused=PaymentInitiationFailed) from exc


async def _customer_id(session: AsyncSession, gateway: StripeGateway, user: User) -> str:
    existing = await repository.customer_of(session, user.id)
    if existing is not None:
        return existing.stripe_customer_id
    # A key derived from the user: two first checkouts at once get the same Stripe customer.
    customer_id = await gateway.create_customer(
        email=user.email, user_id=str(user.id), idempotency_key=f"oja-customer-{user.id}"
    )
    await repository.insert_ignoring_conflict(
        session,
        BillingCustomer.__table__,  # type: ignore[arg-type]
        {"user_id": user.id, "stripe_customer_id": customer_id, "created_at": utcnow()},
        BillingCustomer.user_id,
    )
    stored = await repository.customer_of(session, user.id)
    return stored.stripe_customer_id if stored is not None else customer_id


async def cancel_at_period_end(
    session: AsyncSession, user_id: uuid.UUID, settings: BillingSettings
) -> Subscription:
    subscription = await repository.latest_subscription(session, user_id)
    if subscription is None or subscription.status not in SUBSCRIPTION_ENTITLED:
        raise NoSubscription("You have no active subscription to cancel.")
    async with stripe_gateway(settings) as gateway:
        try:
            state = await gateway.set_cancel_at_period_end(
                subscription.provider_subscription_id, True
            )
        except ProviderCallError as exc:
            raise from_provider(exc, refused=PaymentInitiationFailed) from exc
    _copy_state(subscription, state)
    await session.flush()
    return subscription


async def portal_url(session: AsyncSession, user_id: uuid.UUID, settings: BillingSettings) -> str:
    customer = await repository.customer_of(session, user_id)
    if customer is None:
        raise NoSubscription("You have no billing account yet: subscribe first.")
    async with stripe_gateway(settings) as gateway:
        try:
            return await gateway.create_portal_session(
                customer_id=customer.stripe_customer_id,
                return_url=settings.stripe_portal_return_url,
            )
        except ProviderCallError as exc:
            raise from_provider(exc, refused=PaymentInitiationFailed) from exc


def _copy_state(row: Subscription, state: SubscriptionState) -> None:
    row.status = state.status
    row.current_period_end = state.current_period_end
    row.cancel_at_period_end = state.cancel_at_period_end
    row.canceled_at = state.canceled_at
    row.synced_at = utcnow()
    row.updated_at = utcnow()


async def sync_subscription(
    session: AsyncSession,
    source: SubscriptionSource,
    subscription_id: str,
    *,
    user_hint: str | None = None,
) -> str:
    """Store Stripe's current view of ``subscription_id``; returns what changed (for logs/drift)."""
    row = await repository.subscription_by_provider_id(session, subscription_id, lock=True)
    state = await source.retrieve_subscription(subscription_id)
    if row is None:
        user_id = await _owner(session, state, user_hint)
        if user_id is None:
            log.warning("billing.subscription.unknown_customer", subscription=subscription_id)
            return "unknown_customer"
        now = utcnow()
        inserted = await repository.insert_ignoring_conflict(
            session,
            Subscription.__table__,  # type: ignore[arg-type]
            {
                "id": uuid7(),
                "user_id": user_id,
                "provider": "stripe",
                "provider_subscription_id": state.id,
                "plan_code": CHAT_PRO.code,
                "status": state.status,
                "current_period_end": state.current_period_end,
                "cancel_at_period_end": state.cancel_at_period_end,
                "canceled_at": state.canceled_at,
                "synced_at": now,
                "created_at": now,
                "updated_at": now,
            },
            Subscription.id,
        )
        if inserted is not None:
            return "created"
        # Another sync created it meanwhile: take the lock and read Stripe again.
        row = await repository.subscription_by_provider_id(session, subscription_id, lock=True)
        assert row is not None
        state = await source.retrieve_subscription(subscription_id)
    before = (row.status, row.cancel_at_period_end, row.current_period_end)
    _copy_state(row, state)
    await session.flush()
    return (
        "unchanged"
        if before == (row.status, row.cancel_at_period_end, row.current_period_end)
        else "updated"
    )


async def _owner(
    session: AsyncSession, state: SubscriptionState, user_hint: str | None
) -> uuid.UUID | None:
    if state.customer_id:
        known = await repository.user_of_customer(session, state.customer_id)
        if known is not None:
            return known
    for candidate in (state.user_id, user_hint):
        if candidate:
            try:
                return uuid.UUID(candidate)
            except ValueError:
                continue
    return None
