"""What the admin actions change, each in one unit of work, usable without the UI.

Every function takes the ids the operator selected and returns what it actually changed: a row not in
the expected state (a job that is not failed, a key already revoked) is left alone, so repeating an
action is harmless.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing.config import BillingSettings
from oja.billing.jobs import process_webhook_event
from oja.billing.models import WebhookEvent
from oja.core.clock import utcnow
from oja.core.db import Database, unit_of_work
from oja.core.errors import OjaError
from oja.core.jobs import Job, JobStatus
from oja.core.jobs.outbox import outbox_of
from oja.identity import service as identity_service
from oja.identity.api_keys import service as api_key_service
from oja.identity.api_keys.models import ApiKey
from oja.identity.scopes import Role
from oja.marketplace.ledger import disputes
from oja.marketplace.ledger.schemas import DisputeOut, EvidenceIn
from oja.marketplace.payouts import service as payout_service
from oja.marketplace.payouts.schemas import PayoutOut
from oja.marketplace.reviews import service as review_service
from oja.marketplace.reviews.models import ReviewStatus
from oja.marketplace.vendors import service as vendor_service
from oja.marketplace.vendors.models import VendorAction
from oja.marketplace.vendors.schemas import VendorDecision
from oja.notifications import service as notification_service
from oja.notifications.catalogue import Channel
from oja.notifications.schemas import TemplateOut, TemplateUpdate

log = structlog.get_logger("oja.admin")


async def retry_failed_jobs(database: Database, job_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Queue failed jobs again with a fresh attempt budget; returns the ids re-queued.

    The rows change in one transaction and the messages go out only after it commits. A kind this
    process has not imported cannot be published here; its row is queued all the same and the
    sweeper (which knows every kind) publishes it once ``job_requeue_after`` has passed.
    """
    if not job_ids:
        return []
    now = utcnow()
    async with unit_of_work(database) as session:
        requeued = (
            await session.execute(
                update(Job)
                .where(Job.id.in_(job_ids), Job.status == JobStatus.failed)
                .values(
                    status=JobStatus.queued,
                    attempts=0,
                    progress=0,
                    message="retried by an operator",
                    run_after=now,
                    published_at=now,
                    started_at=None,
                    finished_at=None,
                    lease_expires_at=None,
                    updated_at=now,
                )
                .returning(Job.id, Job.kind)
                .execution_options(synchronize_session=False)
            )
        ).all()
        outbox = outbox_of(session)
    for job_id, kind in requeued:
        definition = outbox.registry.get(kind)
        if definition is None:
            log.warning("admin.job.retry_deferred", job_id=str(job_id), kind=kind)
            continue
        await outbox.publish(definition.task_name, job_id)
        log.info("admin.job.retried", job_id=str(job_id), kind=kind)
    return [job_id for job_id, _ in requeued]


async def revoke_api_keys(database: Database, key_ids: Sequence[uuid.UUID]) -> int:
    """Revoke the keys that are still active; returns how many were."""
    revoked = 0
    async with unit_of_work(database) as session:
        keys = (
            await session.execute(
                select(ApiKey).where(ApiKey.id.in_(key_ids), ApiKey.revoked_at.is_(None))
            )
        ).scalars()
        for key in keys:
            await api_key_service.revoke(session, key.user_id, key.id)
            revoked += 1
    return revoked


async def change_role(
    database: Database, user_ids: Sequence[uuid.UUID], role: Role, *, grant: bool
) -> None:
    """Grant or revoke one role for every selected user, all or nothing.

    Raises the identity module's errors (``UserNotFound``, ``LastAdmin``) and then changes nothing.
    """
    async with unit_of_work(database) as session:
        for user_id in user_ids:
            if grant:
                await identity_service.grant_role(session, user_id, role)
            else:
                await identity_service.revoke_role(session, user_id, role)


async def replay_webhook_events(
    database: Database, event_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    """Process stored webhook events again: one processing job per known event, published after
    commit. Safe to repeat: processing confirms with the provider and payment states only move
    forward, so a replay never credits twice."""
    if not event_ids:
        return []
    async with unit_of_work(database) as session:
        known = (
            (await session.execute(select(WebhookEvent.id).where(WebhookEvent.id.in_(event_ids))))
            .scalars()
            .all()
        )
        for event_id in known:
            process_webhook_event.enqueue(session, event_id=event_id)
    return list(known)


async def _each(
    database: Database,
    ids: Sequence[uuid.UUID],
    change: Callable[[AsyncSession, uuid.UUID], Awaitable[object]],
) -> tuple[int, list[str]]:
    """``change`` each selected row in its own unit of work; a refusal (a domain error) is
    reported and its row left as it was. Returns (rows changed, refusals)."""
    changed, refused = 0, []
    for pk in ids:
        try:
            async with unit_of_work(database) as session:
                await change(session, pk)
        except OjaError as exc:
            refused.append(exc.message)
        else:
            changed += 1
    return changed, refused


async def decide_vendors(
    database: Database,
    vendor_ids: Sequence[uuid.UUID],
    action: VendorAction,
    reason: str | None,
    *,
    actor_id: uuid.UUID,
) -> tuple[int, list[str]]:
    """Apply one decision to each selected store through the vendor service (its transition table,
    status record, role grants and log line), each store in its own unit of work: a store the
    decision does not fit is reported and left as it was. Returns (stores changed, refusals)."""
    decision = VendorDecision(reason=reason)

    async def decide(session: AsyncSession, vendor_id: uuid.UUID) -> None:
        await vendor_service.decide(session, vendor_id, action, decision, actor_id=actor_id)

    return await _each(database, vendor_ids, decide)


async def moderate_reviews(
    database: Database,
    review_ids: Sequence[uuid.UUID],
    status: ReviewStatus,
    reason: str,
    *,
    actor_id: uuid.UUID,
) -> tuple[int, list[str]]:
    """Publish or hide each selected review through the reviews service (flags cleared, rating
    summary moved, decision recorded), one unit of work per review. Returns (changed, refusals)."""

    async def moderate(session: AsyncSession, review_id: uuid.UUID) -> None:
        await review_service.set_status(
            session, review_id, status, actor_id=actor_id, reason=reason
        )

    return await _each(database, review_ids, moderate)


async def save_template(
    database: Database,
    event: str,
    channel: Channel,
    update: TemplateUpdate,
    *,
    actor_id: uuid.UUID,
) -> TemplateOut:
    """Store a template override through the notification service, validated as
    ``PUT /admin/notification-templates/{event}/{channel}`` validates it (raises ``TemplateInvalid``
    or ``TemplateNotFound`` and then stores nothing)."""
    async with unit_of_work(database) as session:
        return await notification_service.put_template(session, event, channel, update, actor_id)


# Payouts and disputes: through the services the ``/admin/payouts`` and ``/admin/disputes`` routes call


async def retry_payouts(
    database: Database, payout_ids: Sequence[uuid.UUID], *, actor_id: uuid.UUID
) -> tuple[int, list[str]]:
    """Retry each selected failed payout (a new payout under ``<reference>-r<n>``, sent after its
    commit), as ``POST /admin/payouts/{id}/retry``."""

    async def retry(session: AsyncSession, pk: uuid.UUID) -> None:
        await payout_service.retry(session, pk, actor_id)

    return await _each(database, payout_ids, retry)


async def hold_payouts(
    database: Database,
    vendor_ids: Sequence[uuid.UUID],
    *,
    held: bool,
    reason: str,
    actor_id: uuid.UUID,
) -> tuple[int, list[str]]:
    """Hold or release each selected store's payouts, with the reason kept in the payout log, as
    ``POST /admin/vendors/{id}/payout-hold|release``."""

    async def hold(session: AsyncSession, pk: uuid.UUID) -> None:
        await payout_service.set_hold(session, pk, held=held, reason=reason, actor_id=actor_id)

    return await _each(database, vendor_ids, hold)


async def finalize_payout(
    database: Database,
    payout_id: uuid.UUID,
    otp: str,
    settings: BillingSettings,
    *,
    actor_id: uuid.UUID,
) -> PayoutOut:
    """Give a payout's OTP to the provider, as ``POST /admin/payouts/{id}/finalize`` (raises the
    service's errors; a refused OTP changes nothing)."""
    async with unit_of_work(database) as session:
        return await payout_service.finalize(session, payout_id, otp, actor_id, settings)


async def submit_dispute_evidence(
    database: Database, dispute_id: uuid.UUID, evidence: EvidenceIn, settings: BillingSettings
) -> DisputeOut:
    """Send a dispute's evidence to the provider, as ``POST /admin/disputes/{id}/evidence``."""
    async with unit_of_work(database) as session:
        return await disputes.submit_evidence(session, dispute_id, evidence, settings)
