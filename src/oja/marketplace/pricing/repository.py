"""SQL for discounts, scoped by ``vendor_id`` (the public listing reads the live ones of the
stores on its page)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from oja.marketplace.pricing.models import Discount
from oja.marketplace.pricing.prices import LiveDiscount


async def vendor_discounts(db: AsyncSession, vendor_id: uuid.UUID) -> Sequence[Discount]:
    query = (
        select(Discount)
        .where(Discount.vendor_id == vendor_id)
        .order_by(Discount.starts_at.desc(), Discount.id)
    )
    return (await db.scalars(query)).all()


def _live(vendor_ids: Sequence[uuid.UUID], now: datetime, code: str | None) -> list[Any]:
    coded = (
        Discount.code.is_(None)
        if code is None
        else or_(Discount.code.is_(None), Discount.code == code)
    )
    return [
        Discount.vendor_id.in_(set(vendor_ids)),
        coded,
        Discount.starts_at <= now,
        or_(Discount.ends_at.is_(None), Discount.ends_at > now),
    ]


async def live_discounts(
    db: AsyncSession, vendor_ids: Sequence[uuid.UUID], now: datetime, code: str | None = None
) -> Sequence[Discount]:
    """Discounts without a code (or with ``code``), running at ``now``, of the given stores (one
    statement)."""
    if not vendor_ids:
        return []
    return (await db.scalars(select(Discount).where(*_live(vendor_ids, now, code)))).all()


_TERMS = tuple(getattr(Discount, field.name) for field in fields(LiveDiscount))


async def live_discount_terms(
    db: AsyncSession, vendor_ids: Sequence[uuid.UUID], now: datetime
) -> list[LiveDiscount]:
    """:func:`live_discounts` without a code, as plain rows (one statement)."""
    if not vendor_ids:
        return []
    query = select(*_TERMS).where(*_live(vendor_ids, now, None))
    return [LiveDiscount(*row) for row in (await db.execute(query)).all()]


# Built once: an alias's column collection is populated on first use.
_LIVE = aliased(Discount, name="live_discount")
_UUIDS = frozenset({"id", "vendor_id", "target_id"})
_TIMES = frozenset({"starts_at", "ends_at"})


def live_discount_terms_json(
    vendor_id: ColumnElement[Any], now: datetime | BindParameter[Any]
) -> Any:
    """PostgreSQL: :func:`live_discount_terms` of the store ``vendor_id`` names, as one JSON
    array column of a catalogue read's statement (:func:`decode_live_discount_terms` reads it
    back): the product page and the listing then price without a statement of their own."""
    pairs: list[Any] = []
    for field in fields(LiveDiscount):
        pairs += [literal(field.name), getattr(_LIVE, field.name)]
    live = (
        _LIVE.vendor_id == vendor_id,
        _LIVE.code.is_(None),
        _LIVE.starts_at <= now,
        or_(_LIVE.ends_at.is_(None), _LIVE.ends_at > now),
    )
    aggregate = func.coalesce(
        func.json_agg(func.json_build_object(*pairs)), literal_column("'[]'::json")
    )
    return select(aggregate).where(*live).scalar_subquery()


def decode_live_discount_terms(raw: Any) -> list[LiveDiscount]:
    items = json.loads(raw) if isinstance(raw, str | bytes) else (raw or [])
    return [
        LiveDiscount(**{name: _decoded(name, value) for name, value in item.items()})
        for item in items
    ]


def _decoded(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _UUIDS:
        return uuid.UUID(value)
    if name in _TIMES:
        return datetime.fromisoformat(value)
    return value


async def code_taken(db: AsyncSession, vendor_id: uuid.UUID, code: str) -> bool:
    query = select(Discount.id).where(Discount.vendor_id == vendor_id, Discount.code == code)
    return (await db.execute(query)).first() is not None
