"""Store rules: opening a store, editing it, admin decisions, staff.

The user who opens a store is its first owner; a user belongs to one store at most. Admin decisions
follow :data:`~oja.marketplace.vendors.models.TRANSITIONS`; each applied one is recorded (who, from,
to, why, when) and logged. Approval grants the ``vendor`` role to the store's owners (and to members
added later while it is approved).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core import events
from oja.core.pagination import Page, PageParams
from oja.core.runtime import current_runtime
from oja.identity import service as identity_service
from oja.identity.models import User
from oja.identity.scopes import Role
from oja.marketplace.errors import (
    AlreadyVendorMember,
    InvalidVendorTransition,
    LastOwner,
    LogoNotFound,
    ReasonRequired,
    StaffNotFound,
    StaffUserNotFound,
    VendorNotFound,
    VendorRoleRequired,
    VendorSlugTaken,
)
from oja.marketplace.reports.config import ReportSettings
from oja.marketplace.reports.jobs import rollup_days
from oja.marketplace.search import service as search
from oja.marketplace.search.jobs import reindex_store
from oja.marketplace.slugs import RESERVED, parse_id, slugify, with_suffix
from oja.marketplace.vendors import repository
from oja.marketplace.vendors.models import (
    TRANSITIONS,
    StaffRole,
    Vendor,
    VendorAction,
    VendorMember,
    VendorStatus,
)
from oja.marketplace.vendors.schemas import (
    FollowOut,
    PublicVendorOut,
    StaffAdd,
    StaffOut,
    VendorCreate,
    VendorDecision,
    VendorOut,
    VendorUpdate,
)

log = structlog.get_logger("oja.marketplace.vendors")

MANAGERS = frozenset({StaffRole.owner, StaffRole.manager})
REASON_REQUIRED = frozenset({VendorAction.reject, VendorAction.suspend})


@dataclass(frozen=True)
class VendorContext:
    """The store a vendor route acts for, and the caller's place in it."""

    vendor_id: uuid.UUID
    user_id: uuid.UUID
    role: StaffRole
    status: VendorStatus


def default_zone() -> str:
    """The zone of stores that set none: ``OJA_REPORTS_TIME_ZONE``."""
    return current_runtime().settings.section(ReportSettings).time_zone


def vendor_out(vendor: Vendor, role: StaffRole | None = None) -> VendorOut:
    return VendorOut(
        id=vendor.id,
        name=vendor.name,
        slug=vendor.slug,
        description=vendor.description,
        logo=vendor.logo_file_id,
        contact_email=vendor.contact_email,
        phone=vendor.phone,
        address=vendor.address,
        status=vendor.status,
        status_reason=vendor.status_reason,
        time_zone=vendor.time_zone or default_zone(),
        role=role,
        created_at=vendor.created_at,
        updated_at=vendor.updated_at,
    )


async def _check_logo(db: AsyncSession, logo: uuid.UUID | None, user_id: uuid.UUID) -> None:
    if logo is not None and not await repository.file_owned_by(db, logo, user_id):
        raise LogoNotFound("The logo must be the id of a file you uploaded.")


async def _free_slug(
    db: AsyncSession, wanted: str | None, name: str, *, except_id: uuid.UUID | None = None
) -> str:
    if wanted is not None:
        if wanted in RESERVED or await repository.slug_taken(db, wanted, except_id=except_id):
            raise VendorSlugTaken(f"The slug {wanted!r} is taken.", details={"slug": wanted})
        return wanted
    slug = slugify(name)
    if slug in RESERVED or await repository.slug_taken(db, slug, except_id=except_id):
        slug = with_suffix(slug)
    return slug


async def _flush(db: AsyncSession, slug: str) -> None:
    try:
        await db.flush()
    except IntegrityError as exc:  # a concurrent store took the slug (or the user) first
        raise VendorSlugTaken(
            f"The slug {slug!r} or your membership was taken concurrently.",
            details={"slug": slug},
        ) from exc


async def open_store(db: AsyncSession, user: User, data: VendorCreate) -> VendorOut:
    if await repository.membership_of(db, user.id) is not None:
        raise AlreadyVendorMember("You already belong to a store.")
    await _check_logo(db, data.logo, user.id)
    slug = await _free_slug(db, data.slug, data.name)
    vendor = Vendor(
        name=data.name,
        slug=slug,
        description=data.description,
        logo_file_id=data.logo,
        contact_email=data.contact_email,
        phone=data.phone,
        address=data.address,
        status=VendorStatus.pending,
    )
    db.add(vendor)
    await _flush(db, slug)
    db.add(VendorMember(vendor_id=vendor.id, user_id=user.id, role=StaffRole.owner))
    await _flush(db, slug)
    log.info("marketplace.vendor.opened", vendor_id=str(vendor.id), slug=slug)
    return vendor_out(vendor, StaffRole.owner)


async def my_store(db: AsyncSession, ctx: VendorContext) -> VendorOut:
    vendor = await repository.vendor(db, ctx.vendor_id)
    if vendor is None:
        raise VendorNotFound("No such store.")
    return vendor_out(vendor, ctx.role)


def require_manager(ctx: VendorContext) -> None:
    if ctx.role not in MANAGERS:
        raise VendorRoleRequired(
            "Only the store's owners and managers may do this.",
            details={"roles": sorted(MANAGERS)},
        )


async def update_store(db: AsyncSession, ctx: VendorContext, data: VendorUpdate) -> VendorOut:
    require_manager(ctx)
    vendor = await repository.vendor(db, ctx.vendor_id)
    if vendor is None:
        raise VendorNotFound("No such store.")
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is None:
        del changes["name"]
    if "slug" in changes:
        if changes["slug"] is None:
            del changes["slug"]
        else:
            changes["slug"] = await _free_slug(
                db, changes["slug"], vendor.name, except_id=vendor.id
            )
    if "logo" in changes:
        await _check_logo(db, changes["logo"], ctx.user_id)
        changes["logo_file_id"] = changes.pop("logo")
    renamed = "name" in changes and changes["name"] != vendor.name
    zone_before = vendor.time_zone or default_zone()
    for field, value in changes.items():
        setattr(vendor, field, value)
    await _flush(db, vendor.slug)
    if renamed:  # the store's name is in every product's search words
        reindex_store.enqueue(db, vendor_id=vendor.id)
    if (vendor.time_zone or default_zone()) != zone_before:
        # Its stored days were cut at the old midnight: the job rebuilds them (reports are
        # counted live until it has).
        rollup_days.enqueue(db)
    return vendor_out(vendor, ctx.role)


async def public_store(db: AsyncSession, key: str) -> PublicVendorOut:
    found = await repository.approved_vendor(db, vendor_id=parse_id(key), slug=key)
    if found is None:
        raise VendorNotFound("No such store.")
    vendor, product_count = found
    return PublicVendorOut(
        id=vendor.id,
        name=vendor.name,
        slug=vendor.slug,
        description=vendor.description,
        logo=vendor.logo_file_id,
        contact_email=vendor.contact_email,
        phone=vendor.phone,
        address=vendor.address,
        rating=None,
        product_count=product_count,
        created_at=vendor.created_at,
    )


async def list_stores(
    db: AsyncSession, *, status: VendorStatus | None, paging: PageParams
) -> Page[VendorOut]:
    items, total = await repository.list_vendors(db, status=status, paging=paging)
    return Page[VendorOut].of([vendor_out(v) for v in items], total=total, params=paging)


async def decide(
    db: AsyncSession,
    vendor_id: uuid.UUID,
    action: VendorAction,
    decision: VendorDecision,
    *,
    actor_id: uuid.UUID,
) -> VendorOut:
    """Apply an admin decision: one conditional UPDATE, its record, its log line."""
    if action in REASON_REQUIRED and not decision.reason:
        raise ReasonRequired(f"A reason is required to {action} a store.")
    vendor = await repository.vendor(db, vendor_id)
    if vendor is None:
        raise VendorNotFound("No such store.")
    sources, target = TRANSITIONS[action]
    current = VendorStatus(vendor.status)
    if current not in sources or not await repository.move_status(
        db, vendor_id, from_status=current, to_status=target, reason=decision.reason
    ):
        raise InvalidVendorTransition(
            f"A {current} store cannot be {target}.",
            details={"status": str(current), "action": str(action)},
        )
    repository.record_status_change(
        db,
        vendor_id,
        from_status=current,
        to_status=target,
        actor_id=actor_id,
        reason=decision.reason,
    )
    search.invalidate_after_commit(db)  # search reads the store's status live
    if target == VendorStatus.approved:
        for owner_id in await repository.owner_ids(db, vendor_id):
            await identity_service.grant_role(db, owner_id, Role.vendor)
    log.info(
        "marketplace.vendor.status_changed",
        vendor_id=str(vendor_id),
        from_status=str(current),
        to_status=str(target),
        actor_id=str(actor_id),
        reason=decision.reason,
    )
    await db.refresh(vendor)
    return vendor_out(vendor)


async def list_staff(db: AsyncSession, ctx: VendorContext) -> list[StaffOut]:
    return [_staff_out(m, email) for m, email in await repository.members(db, ctx.vendor_id)]


def _staff_out(member: VendorMember, email: str | None) -> StaffOut:
    return StaffOut(
        user_id=member.user_id, email=email, role=member.role, created_at=member.created_at
    )


def _require_may_touch(ctx: VendorContext, role: StaffRole) -> None:
    require_manager(ctx)
    if role == StaffRole.owner and ctx.role != StaffRole.owner:
        raise VendorRoleRequired(
            "Only an owner may add or remove owners.", details={"roles": [StaffRole.owner]}
        )


async def add_staff(db: AsyncSession, ctx: VendorContext, data: StaffAdd) -> StaffOut:
    _require_may_touch(ctx, data.role)
    user = await repository.user_by_id_or_email(db, user_id=data.user_id, email=data.email)
    if user is None:
        raise StaffUserNotFound("No account has that user id or email.")
    if await repository.membership_of(db, user.id) is not None:
        raise AlreadyVendorMember("That user already belongs to a store.")
    member = VendorMember(vendor_id=ctx.vendor_id, user_id=user.id, role=data.role)
    db.add(member)
    try:
        await db.flush()
    except IntegrityError as exc:
        raise AlreadyVendorMember("That user already belongs to a store.") from exc
    if ctx.status == VendorStatus.approved:
        await identity_service.grant_role(db, user.id, Role.vendor)
    log.info(
        "marketplace.vendor.staff_added",
        vendor_id=str(ctx.vendor_id),
        user_id=str(user.id),
        role=str(data.role),
    )
    return _staff_out(member, user.email)


async def remove_staff(db: AsyncSession, ctx: VendorContext, user_id: uuid.UUID) -> None:
    await repository.lock_store(db, ctx.vendor_id)
    member = await repository.member(db, ctx.vendor_id, user_id)
    if member is None:
        raise StaffNotFound("No such member of your store.")
    _require_may_touch(ctx, StaffRole(member.role))
    if member.role == StaffRole.owner and await repository.count_owners(db, ctx.vendor_id) <= 1:
        raise LastOwner("The last owner of a store cannot be removed.")
    await repository.remove_member(db, ctx.vendor_id, user_id)
    log.info("marketplace.vendor.staff_removed", vendor_id=str(ctx.vendor_id), user_id=str(user_id))


# -- followers ---------------------------------------------------------------------------------


async def set_following(
    db: AsyncSession, user_id: uuid.UUID, vendor_id: uuid.UUID, *, following: bool
) -> FollowOut:
    """Follow or stop following an approved store (idempotent both ways; a store that is gone or
    not approved answers 404)."""
    if await repository.approved_vendor(db, vendor_id=vendor_id, slug="") is None:
        raise VendorNotFound("No such store.")
    if following:
        await repository.follow(db, vendor_id, user_id)
    else:
        await repository.unfollow(db, vendor_id, user_id)
    return FollowOut(
        vendor_id=vendor_id,
        following=following,
        followers=await repository.follower_count(db, vendor_id),
    )


async def announce_new_products(db: AsyncSession, day: date) -> int:
    """Tell each approved store's followers, in one event per store, of the products it made active
    on ``day`` (UTC) and never announced; each is recorded as announced in the same transaction,
    and the event id is the store and the day, so a re-run tells no one twice. How many stores were
    announced."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    found = await repository.new_products_of_followed_stores(db, start, start + timedelta(days=1))
    by_store: dict[uuid.UUID, list[tuple[Any, ...]]] = {}
    for row in found:
        by_store.setdefault(row[0], []).append(row)
    for vendor_id, products in by_store.items():
        _, store_name, product_id, title, price, currency = products[0]
        await events.emit(
            "product.new_from_followed_store",
            recipient_ids=await repository.follower_ids(db, vendor_id),
            event_id=uuid.uuid5(vendor_id, f"new-products:{day.isoformat()}"),
            vendor_id=str(vendor_id),
            store_name=store_name,
            product_id=str(product_id),
            product_title=title,
            price_amount=price or 0,
            currency=currency or "NGN",
            more_count=len(products) - 1,
        )
        repository.record_announced(db, vendor_id, [row[2] for row in products])
    return len(by_store)
