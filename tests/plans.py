"""The generic plan PostgreSQL gives a prepared statement (asyncpg prepares every statement)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlalchemy import Executable
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    return f"'{value}'" if isinstance(value, str) else str(value)


def prepared(
    statement: Executable, name: str, values: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """``PREPARE name AS …`` of the statement with its parameters as ``$n``, and its EXECUTE:
    each parameter as ``values[its name]`` (SQL text), else its bound value as a literal (NULL
    when it has none; a generic plan does not look at them). An IN list of n values is n
    parameters, as SQLAlchemy sends it."""
    compiled = statement.compile(dialect=postgresql.dialect())
    params = dict(compiled.params)

    def expand(match: re.Match[str]) -> str:  # an IN list: one parameter a value, as sent
        items = params.pop(match[1])
        params.update({f"{match[1]}_{i}": item for i, item in enumerate(items, 1)})
        return ", ".join(f"%({match[1]}_{i})s" for i in range(1, len(items) + 1))

    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match[1] not in names:
            names.append(match[1])
        return f"${names.index(match[1]) + 1}"

    sql = re.sub(r"__\[POSTCOMPILE_(\w+)\]", expand, compiled.string)
    sql = re.sub(r"%\((\w+)\)s", number, sql)
    given = values or {}
    arguments = [given.get(n) or _literal(params.get(n)) for n in names]
    return f"PREPARE {name} AS {sql}", f"EXECUTE {name}({', '.join(arguments)})"


async def generic_plan(
    conn: AsyncConnection, statement: Executable, name: str, values: Mapping[str, str] | None = None
) -> str:
    """The EXPLAIN text of ``statement``'s generic plan; the transaction is rolled back."""
    prepare, execute = prepared(statement, name, values)
    await conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
    await conn.exec_driver_sql(prepare)
    lines = (await conn.exec_driver_sql(f"EXPLAIN {execute}")).all()
    await conn.rollback()
    return "\n".join(str(line) for (line,) in lines)
