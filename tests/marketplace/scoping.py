"""The tenancy check on emitted SQL: a statement touching a vendor-owned table must filter on
``vendor_id``.

Statements are captured with SQLAlchemy's ``before_cursor_execute`` event. INSERTs are not
checked (a new row names its ``vendor_id`` in its values). The one exception is resolving the
tenant: the caller's ``vendor_member`` row read (SELECT only) by ``user_id``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from oja.marketplace.tenancy import vendor_owned_tables

TENANT_RESOLUTION = {"vendor_member": "user_id"}
"""table → column: a statement on ``table`` filtered by ``column`` finds the caller's store."""

_REFERENCE = re.compile(r"\b(?:FROM|JOIN|UPDATE|DELETE\s+FROM)\s+(\w+)", re.IGNORECASE)


def unscoped_tables(sql: str, owned: frozenset[str] | None = None) -> list[str]:
    """The vendor-owned tables ``sql`` reads, changes or deletes without a ``vendor_id`` filter."""
    owned = vendor_owned_tables() if owned is None else owned
    text = " ".join(sql.replace('"', "").split())
    if text.upper().startswith("INSERT"):
        return []
    referenced = {name.lower() for name in _REFERENCE.findall(text)}
    parts = re.split(r"\bWHERE\b", text, maxsplit=1, flags=re.IGNORECASE)
    where = parts[1] if len(parts) == 2 else ""
    missing = []
    for table in sorted(referenced & owned):
        exempt = TENANT_RESOLUTION.get(table)
        if (
            exempt
            and text.upper().startswith("SELECT")
            and re.search(rf"\b{table}\.{exempt}\s*=", where)
        ):
            continue
        qualified = re.search(rf"\b{table}\.vendor_id\s*(=|IN\b)", where, re.IGNORECASE)
        bare = len(referenced) == 1 and re.search(r"(?<![.\w])vendor_id\s*(=|IN\b)", where)
        if not (qualified or bare):
            missing.append(table)
    return missing


class StatementLog:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.recording = False

    def record(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.recording:
            self.statements.append(statement)

    @contextmanager
    def on(self) -> Iterator[None]:
        self.recording = True
        try:
            yield
        finally:
            self.recording = False

    def unscoped(self) -> list[tuple[str, list[str]]]:
        found = [(sql, unscoped_tables(sql)) for sql in self.statements]
        return [(sql, tables) for sql, tables in found if tables]


@contextmanager
def statement_log(engine: AsyncEngine) -> Iterator[StatementLog]:
    log = StatementLog()
    event.listen(engine.sync_engine, "before_cursor_execute", log.record)
    try:
        yield log
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", log.record)
