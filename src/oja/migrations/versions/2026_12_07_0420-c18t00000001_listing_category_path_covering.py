"""catalogue: the listing's category index carries what its counts filter on

``GET /products?category=…&min_price=…&max_price=…&in_stock=true`` counts its total as two counts
over the category's products (those the range takes by their cheapest or dearest price, and the
straddlers with a live variant in it, issue 18). Each read every product of the category from the
heap for ``stocked_variants``, ``min_price`` and ``max_price`` (4,134 blocks each on the bench,
28 ms and 24 ms of a 55 ms statement). With those columns (and the id the straddlers' variant
look joins on) included in the index, both are index-only scans. PostgreSQL only: SQLite has no INCLUDE, its index is unchanged.

Revision ID: c18t00000001
Revises: c18p00000001
Create Date: 2026-12-07 04:20:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c18t00000001"
down_revision: str | None = "c18p00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_product_listed_category_path"


def _create(include: list[str]) -> None:
    op.create_index(
        NAME,
        "product",
        ["category_path"],
        unique=False,
        postgresql_where=sa.text("listed"),
        postgresql_ops={"category_path": "text_pattern_ops"},
        postgresql_include=include,
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(NAME, table_name="product")
    _create(["stocked_variants", "min_price", "max_price", "id"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(NAME, table_name="product")
    _create([])
