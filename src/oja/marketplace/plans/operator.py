"""An operator's change of a store's plan (``POST /admin/vendors/{id}/plan``).

The plan is set at once, without Paystack: an upgrade raises the limit for the next request, a
downgrade below the store's users this period ends the sessions of the users beyond the new limit
(``store_session_ended`` on their next request, as after a downgrade through Paystack) and alerts
the owners, ``free`` puts the store on the free tier. A Paystack subscription the store holds is
left as it is (its renewals move the paid period, never the plan); a change waiting for the end
of the paid period, a cancellation and a grace period are dropped — the operator's word is the
last. Every change is recorded (who, from, to, why) and logged.
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.marketplace.errors import PlanUnchanged, VendorNotFound
from oja.marketplace.plans import repository
from oja.marketplace.plans import service as plans_service
from oja.marketplace.plans.models import SubscriptionStatus, VendorPlanChange
from oja.marketplace.vendors import repository as vendors

log = structlog.get_logger("oja.marketplace.plans")


async def set_plan(
    db: AsyncSession, vendor_id: uuid.UUID, plan: str, reason: str, *, actor_id: uuid.UUID
) -> VendorPlanChange:
    if await vendors.vendor(db, vendor_id) is None:
        raise VendorNotFound("No such store.")
    row = await repository.subscription_for_update(db, vendor_id)
    current = row.plan if row.status == SubscriptionStatus.active else plans_service.FREE
    if plan == current:
        raise PlanUnchanged(f"The store is already on {plan}.", details={"plan": plan})
    if plan == plans_service.FREE:
        row.status = SubscriptionStatus.canceled
    else:
        row.plan, row.status = plan, SubscriptionStatus.active
    row.cancel_at_period_end, row.grace_until = False, None
    row.pending_plan = row.pending_subscription_code = row.pending_at = None
    row.updated_at = utcnow()
    change = VendorPlanChange(
        vendor_id=vendor_id, from_plan=current, to_plan=plan, actor_id=actor_id, reason=reason
    )
    db.add(change)
    await db.flush()
    await plans_service.plan_changed(db, [vendor_id])
    log.info(
        "marketplace.plans.operator_change",
        vendor_id=str(vendor_id),
        from_plan=current,
        to_plan=plan,
        actor_id=str(actor_id),
        reason=reason,
    )
    return change
