"""Column types shared by the marketplace's models."""

from __future__ import annotations

import enum

from sqlalchemy import Enum


def enum_column(enum_class: type[enum.StrEnum], *, name: str, length: int = 16) -> Enum:
    """A string column restricted to ``enum_class``'s values by a named CHECK constraint
    (``ck_<table>_<name>``); ``name`` must differ between columns of one table."""
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [member.value for member in members],
    )
