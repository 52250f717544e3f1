"""SQL for stores and their members. Every query of a vendor-owned table filters on ``vendor_id``
(the membership lookup by ``user_id`` is how the tenant is found, see :mod:`oja.marketplace.tenancy`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.db import insert_ignore
from oja.core.pagination import PageParams
from oja.files.models import File
from oja.identity.models import User
from oja.marketplace.catalog.models import Product, ProductStatus, ProductVariant
from oja.marketplace.vendors.models import (
    ProductAnnouncement,
    StaffRole,
    StoreFollow,
    Vendor,
    VendorMember,
    VendorStatus,
    VendorStatusChange,
)


async def membership_of(db: AsyncSession, user_id: uuid.UUID) -> tuple[VendorMember, Vendor] | None:
    """The store ``user_id`` belongs to, with their place in it (tenant resolution)."""
    row = (
        await db.execute(
            select(VendorMember, Vendor)
            .join(Vendor, Vendor.id == VendorMember.vendor_id)
            .where(VendorMember.user_id == user_id)
        )
    ).first()
    return None if row is None else (row[0], row[1])


_PLACE = (
    select(Vendor.id, VendorMember.role, Vendor.status)
    .join(Vendor, Vendor.id == VendorMember.vendor_id)
    .where(VendorMember.user_id == bindparam("user_id", type_=VendorMember.user_id.type))
)
""":func:`place_of`'s statement, built once: a public read asks it for every signed-in caller."""


async def place_of(db: AsyncSession, user_id: uuid.UUID) -> tuple[uuid.UUID, str, str] | None:
    """:func:`membership_of` as plain columns (the store's id, the user's role in it, the store's
    status), without loading either row: what a public read needs to know of its caller."""
    row = (await db.execute(_PLACE, {"user_id": user_id})).first()
    return None if row is None else (row[0], row[1], row[2])


async def vendor(db: AsyncSession, vendor_id: uuid.UUID) -> Vendor | None:
    return await db.get(Vendor, vendor_id)


async def slug_taken(db: AsyncSession, slug: str, *, except_id: uuid.UUID | None = None) -> bool:
    query = select(Vendor.id).where(Vendor.slug == slug)
    if except_id is not None:
        query = query.where(Vendor.id != except_id)
    return (await db.execute(query.limit(1))).first() is not None


async def approved_vendor(
    db: AsyncSession, *, vendor_id: uuid.UUID | None, slug: str
) -> tuple[Vendor, int] | None:
    """An approved store by id or slug, with its count of active products (one statement)."""
    products = (
        select(func.count())
        .where(Product.vendor_id == Vendor.id, Product.status == ProductStatus.active)
        .correlate(Vendor)
        .scalar_subquery()
    )
    key = Vendor.id == vendor_id if vendor_id is not None else Vendor.slug == slug
    row = (
        await db.execute(
            select(Vendor, products).where(key, Vendor.status == VendorStatus.approved)
        )
    ).first()
    return None if row is None else (row[0], int(row[1]))


async def file_owned_by(db: AsyncSession, file_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    query = select(File.id).where(File.id == file_id, File.owner_id == user_id)
    return (await db.execute(query)).first() is not None


async def list_vendors(
    db: AsyncSession, *, status: VendorStatus | None, paging: PageParams
) -> tuple[Sequence[Vendor], int]:
    where = [] if status is None else [Vendor.status == status]
    total = (await db.execute(select(func.count()).select_from(Vendor).where(*where))).scalar_one()
    items = (
        await db.scalars(
            select(Vendor)
            .where(*where)
            .order_by(Vendor.created_at.desc(), Vendor.id.desc())
            .offset(paging.offset)
            .limit(paging.per_page)
        )
    ).all()
    return items, int(total)


async def move_status(
    db: AsyncSession,
    vendor_id: uuid.UUID,
    *,
    from_status: VendorStatus,
    to_status: VendorStatus,
    reason: str | None,
) -> bool:
    """Apply one transition if the store is still in ``from_status``; False when it was not."""
    result = await db.execute(
        update(Vendor)
        .where(Vendor.id == vendor_id, Vendor.status == from_status)
        .values(status=to_status, status_reason=reason, updated_at=utcnow())
        .returning(Vendor.id)
        .execution_options(synchronize_session=False)
    )
    return result.first() is not None


def record_status_change(
    db: AsyncSession,
    vendor_id: uuid.UUID,
    *,
    from_status: VendorStatus,
    to_status: VendorStatus,
    actor_id: uuid.UUID,
    reason: str | None,
) -> None:
    db.add(
        VendorStatusChange(
            vendor_id=vendor_id,
            from_status=from_status,
            to_status=to_status,
            actor_id=actor_id,
            reason=reason,
        )
    )


async def members(
    db: AsyncSession, vendor_id: uuid.UUID
) -> Sequence[tuple[VendorMember, str | None]]:
    rows = await db.execute(
        select(VendorMember, User.email)
        .join(User, User.id == VendorMember.user_id)
        .where(VendorMember.vendor_id == vendor_id)
        .order_by(VendorMember.created_at, VendorMember.user_id)
    )
    return [(row[0], row[1]) for row in rows]


async def member(db: AsyncSession, vendor_id: uuid.UUID, user_id: uuid.UUID) -> VendorMember | None:
    return (
        await db.scalars(
            select(VendorMember).where(
                VendorMember.vendor_id == vendor_id, VendorMember.user_id == user_id
            )
        )
    ).first()


async def lock_store(db: AsyncSession, vendor_id: uuid.UUID) -> None:
    """Serialise membership changes of one store until the unit of work ends (``FOR UPDATE`` on
    its row; SQLite has one writer anyway): two owners removing each other at once cannot both
    see "another owner remains"."""
    await db.execute(select(Vendor.id).where(Vendor.id == vendor_id).with_for_update())


async def count_owners(db: AsyncSession, vendor_id: uuid.UUID) -> int:
    query = select(func.count()).where(
        VendorMember.vendor_id == vendor_id, VendorMember.role == StaffRole.owner
    )
    return int((await db.execute(query)).scalar_one())


async def owner_ids(db: AsyncSession, vendor_id: uuid.UUID) -> list[uuid.UUID]:
    query = select(VendorMember.user_id).where(
        VendorMember.vendor_id == vendor_id, VendorMember.role == StaffRole.owner
    )
    return list((await db.scalars(query)).all())


async def remove_member(db: AsyncSession, vendor_id: uuid.UUID, user_id: uuid.UUID) -> None:
    await db.execute(
        delete(VendorMember)
        .where(VendorMember.vendor_id == vendor_id, VendorMember.user_id == user_id)
        .execution_options(synchronize_session=False)
    )


async def user_by_id_or_email(
    db: AsyncSession, *, user_id: uuid.UUID | None, email: str | None
) -> User | None:
    # Emails are stored lowercased (identity normalises them at signup).
    key = User.id == user_id if user_id is not None else User.email == (email or "").lower()
    return (await db.scalars(select(User).where(key))).first()


# -- followers ---------------------------------------------------------------------------------


async def follow(db: AsyncSession, vendor_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Idempotent: following twice leaves one row (``ON CONFLICT DO NOTHING``)."""
    await db.execute(
        insert_ignore(db, StoreFollow).values(
            vendor_id=vendor_id, user_id=user_id, created_at=utcnow()
        )
    )


async def unfollow(db: AsyncSession, vendor_id: uuid.UUID, user_id: uuid.UUID) -> None:
    await db.execute(
        delete(StoreFollow).where(
            StoreFollow.vendor_id == vendor_id, StoreFollow.user_id == user_id
        )
    )


async def follower_count(db: AsyncSession, vendor_id: uuid.UUID) -> int:
    query = select(func.count()).select_from(StoreFollow).where(StoreFollow.vendor_id == vendor_id)
    return int(await db.scalar(query) or 0)


async def follower_ids(db: AsyncSession, vendor_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        await db.scalars(select(StoreFollow.user_id).where(StoreFollow.vendor_id == vendor_id))
    )


async def new_products_of_followed_stores(
    db: AsyncSession, start: datetime, end: datetime
) -> list[tuple[uuid.UUID, str, uuid.UUID, str, int | None, str | None]]:
    """Active products changed in [start, end) and never announced, of approved stores with
    followers, oldest first per store: (vendor_id, store name, product_id, title, cheapest live
    price, its currency). A draft activated on a later day is found on that day."""
    cheapest = (
        select(
            ProductVariant.product_id,
            func.min(ProductVariant.price).label("price"),
            func.min(ProductVariant.currency).label("currency"),
        )
        .where(ProductVariant.deleted_at.is_(None))
        .group_by(ProductVariant.product_id)
        .subquery()
    )
    followed = select(StoreFollow.vendor_id).distinct().scalar_subquery()
    result = await db.execute(
        select(
            Product.vendor_id,
            Vendor.name,
            Product.id,
            Product.title,
            cheapest.c.price,
            cheapest.c.currency,
        )
        .join(Vendor, Vendor.id == Product.vendor_id)
        .outerjoin(cheapest, cheapest.c.product_id == Product.id)
        .where(
            Product.updated_at >= start,
            Product.updated_at < end,
            Product.status == ProductStatus.active,
            ~exists().where(ProductAnnouncement.product_id == Product.id),
            Vendor.status == VendorStatus.approved,
            Product.vendor_id.in_(followed),
        )
        .order_by(Product.vendor_id, Product.created_at, Product.id)
    )
    return [tuple(row) for row in result.all()]


def record_announced(db: AsyncSession, vendor_id: uuid.UUID, product_ids: list[uuid.UUID]) -> None:
    db.add_all(ProductAnnouncement(product_id=p, vendor_id=vendor_id) for p in product_ids)
