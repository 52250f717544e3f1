"""Spending a single-use row: refresh tokens, phone codes, link tokens, sign-in states, recovery
codes.

A row is spent by one conditional ``UPDATE … SET <stamp> = now WHERE <row> AND <stamp> IS NULL``:
exactly one caller wins however many race. On PostgreSQL the losers wait on the row lock and then
see the stamp set; on SQLite the statement takes the database write lock first. Reading the row
before the write would be no lock at all (and on SQLite a read could not be upgraded under
contention), so whatever a caller needs from the row comes back from the same statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Table, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.schema import Column


async def spend_once(
    db: AsyncSession,
    stamp: Column[Any],
    *where: ColumnElement[bool],
    now: datetime,
    returning: Sequence[Column[Any]] = (),
) -> Row[Any] | None:
    """Stamp the one unspent row ``where`` selects with ``now``; its ``returning`` columns (its
    primary key when none are named) for the caller that won, None for every other caller and when
    no unspent row matches."""
    table = stamp.table
    assert isinstance(table, Table)
    columns = list(returning) or list(table.primary_key.columns)
    statement = (
        update(table).where(*where, stamp.is_(None)).values({stamp.key: now}).returning(*columns)
    )
    return (await db.execute(statement)).first()
