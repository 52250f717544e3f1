"""The transaction policy as a check: only ``oja/core/db.py`` opens sessions, commits or rolls back.

Everything else goes through ``unit_of_work``, ``own_transaction``, ``read_only``, ``discard`` or
``commit_then_raise``. Flagged: a call to ``sessionmaker(...)``, ``async_sessionmaker(...)`` or
``<anything>.sessionmaker(...)``, and an argument-less ``<anything>.commit()`` or ``.rollback()``
(a domain verb with arguments, such as ``Quotas.commit(reservation)``, is not a transaction).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
OWNER = "oja/core/db.py"
SESSION_FACTORIES = {"sessionmaker", "async_sessionmaker"}
TRANSACTION_ENDS = {"commit", "rollback"}

# Converted on branches identity/jobs; the merge empties this list.
ALLOWED: set[tuple[str, str]] = {
    ("oja/core/jobs/definition.py", "sessionmaker"),
    ("oja/core/jobs/definition.py", "commit"),
    ("oja/core/jobs/definition.py", "rollback"),
    ("oja/core/jobs/runner.py", "sessionmaker"),
    ("oja/core/jobs/runner.py", "commit"),
    # The session class every unit of work uses: its commit and rollback overrides end in the
    # Session's own (super().commit(), super().rollback()), writing or dropping the buffered job rows.
    ("oja/core/jobs/outbox.py", "commit"),
    ("oja/core/jobs/outbox.py", "rollback"),
}


def violations(source: str, path: str) -> list[tuple[str, int, str]]:
    """``(path, line, name)`` of every session factory call and transaction end in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source, filename=path)):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        name = (
            function.attr
            if isinstance(function, ast.Attribute)
            else function.id
            if isinstance(function, ast.Name)
            else None
        )
        if name in SESSION_FACTORIES or (
            name in TRANSACTION_ENDS
            and isinstance(function, ast.Attribute)
            and not node.args
            and not node.keywords
        ):
            found.append((path, node.lineno, f"{name}()"))
    return sorted(found)


def test_nothing_outside_core_db_opens_commits_or_rolls_back() -> None:
    found = []
    for file in sorted(SRC.rglob("oja/**/*.py")):
        path = file.relative_to(SRC).as_posix()
        if path == OWNER:
            continue
        found += [
            hit
            for hit in violations(file.read_text(encoding="utf-8"), path)
            if (path, hit[2].removesuffix("()")) not in ALLOWED
        ]
    assert not found, "use oja.core.db (unit_of_work, own_transaction, read_only, discard):\n" + (
        "\n".join(f"src/{path}:{line}: {name}" for path, line, name in found)
    )


def test_the_check_catches_each_kind_of_violation() -> None:
    source = """
async def f(database, session, quotas, reservation):
    async with database.sessionmaker() as s:
        await s.commit()
    maker = async_sessionmaker(engine)
    other = sessionmaker(bind=engine)
    await session.rollback()
    await quotas.commit(reservation)  # a domain verb: allowed
    await session.close()
"""
    assert violations(source, "oja/x.py") == [
        ("oja/x.py", 3, "sessionmaker()"),
        ("oja/x.py", 4, "commit()"),
        ("oja/x.py", 5, "async_sessionmaker()"),
        ("oja/x.py", 6, "sessionmaker()"),
        ("oja/x.py", 7, "rollback()"),
    ]


def test_the_walk_sees_the_package() -> None:
    files = list(SRC.rglob("oja/**/*.py"))
    assert len(files) > 50
    assert any(f.relative_to(SRC).as_posix() == OWNER for f in files)
