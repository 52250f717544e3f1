"""AliExpress connection queries, every one scoped to its store."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oja.marketplace.aliexpress.models import AliExpressConnection


async def for_vendor(db: AsyncSession, vendor_id: uuid.UUID) -> AliExpressConnection | None:
    return await db.scalar(
        select(AliExpressConnection).where(AliExpressConnection.vendor_id == vendor_id)
    )
