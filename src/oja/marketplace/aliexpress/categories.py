"""Which local category an AliExpress category goes to: the store's own map, else the operator's
default map, else the fallback category (OJA_ALIEXPRESS_FALLBACK_CATEGORY), else none; and the
maps' reading and replacing."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.errors import InvalidRequest
from oja.core.ids import uuid7
from oja.core.runtime import Runtime
from oja.marketplace.aliexpress import repository
from oja.marketplace.aliexpress.config import AliExpressImportSettings
from oja.marketplace.aliexpress.schemas import (
    CategoryMapIn,
    CategoryMapOut,
    CategoryMappingOut,
    UnmappedCategoryOut,
)

Resolver = Callable[[str | None], uuid.UUID | None]


async def resolver(db: AsyncSession, runtime: Runtime, vendor_id: uuid.UUID) -> Resolver:
    own = await repository.vendor_map(db, vendor_id)
    default = await repository.default_map(db)
    slug = runtime.settings.section(AliExpressImportSettings).aliexpress_fallback_category
    fallback = await repository.category_by_slug(db, slug) if slug else None

    def resolve(source_category_id: str | None) -> uuid.UUID | None:
        if source_category_id is None:
            return fallback
        return own.get(source_category_id) or default.get(source_category_id) or fallback

    return resolve


def _out(mapping: dict[str, uuid.UUID]) -> list[CategoryMappingOut]:
    return [
        CategoryMappingOut(source_category_id=source, category_id=category)
        for source, category in sorted(mapping.items())
    ]


async def vendor_map(db: AsyncSession, vendor_id: uuid.UUID) -> CategoryMapOut:
    own = await repository.vendor_map(db, vendor_id)
    mapped = sorted({*own, *(await repository.default_map(db))})
    unmapped = await repository.unmapped(db, vendor_id, mapped)
    return CategoryMapOut(
        mappings=_out(own),
        unmapped=[UnmappedCategoryOut(source_category_id=s, products=n) for s, n in unmapped],
    )


async def default_map(db: AsyncSession) -> CategoryMapOut:
    return CategoryMapOut(mappings=_out(await repository.default_map(db)))


async def _rows(db: AsyncSession, body: CategoryMapIn) -> list[dict[str, object]]:
    """The map's rows; 422 (nothing changed) for a category named twice or that does not exist."""
    problems: list[dict[str, object]] = []
    seen: set[str] = set()
    for index, mapping in enumerate(body.mappings):
        if mapping.source_category_id in seen:
            problems.append(
                {
                    "loc": ["body", "mappings", index, "source_category_id"],
                    "msg": f"AliExpress category {mapping.source_category_id} is mapped twice",
                    "type": "duplicate",
                }
            )
        seen.add(mapping.source_category_id)
    wanted = sorted({m.category_id for m in body.mappings})
    found = await repository.existing_categories(db, wanted)
    for index, mapping in enumerate(body.mappings):
        if mapping.category_id not in found:
            problems.append(
                {
                    "loc": ["body", "mappings", index, "category_id"],
                    "msg": f"no category {mapping.category_id}",
                    "type": "not_found",
                }
            )
    if problems:
        raise InvalidRequest("The category map is not valid.", details=problems)
    now = utcnow()
    return [
        {
            "id": uuid7(),
            "source_category_id": m.source_category_id,
            "category_id": m.category_id,
            "created_at": now,
            "updated_at": now,
        }
        for m in body.mappings
    ]


async def replace_vendor_map(
    db: AsyncSession, vendor_id: uuid.UUID, body: CategoryMapIn
) -> CategoryMapOut:
    rows = [{**row, "vendor_id": vendor_id} for row in await _rows(db, body)]
    await repository.replace_vendor_map(db, vendor_id, rows)
    return await vendor_map(db, vendor_id)


async def replace_default_map(db: AsyncSession, body: CategoryMapIn) -> CategoryMapOut:
    await repository.replace_default_map(db, await _rows(db, body))
    return await default_map(db)
