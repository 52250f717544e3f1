"""catalogue: the listing's price index carries ``max_price``

``GET /products?min_price=…&max_price=…`` keeps products with ``min_price <= max`` and
``max_price >= min`` (and looks at the variants of those that straddle the range). The price
index ``ix_product_listed_min_price`` answered the first bound, then PostgreSQL read every
candidate's row from the heap for the second (49,000 rows on the bench, issue 18); with
``max_price`` included the range and its total are read from the index alone. SQLite has no
INCLUDE: its index is unchanged, so this revision does nothing there.

Revision ID: c18m00000001
Revises: c18l00000001
Create Date: 2026-12-06 21:40:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c18m00000001"
down_revision: str | None = "c18l00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_product_listed_min_price"


def _recreate(include: list[str]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(NAME, table_name="product")
    op.create_index(
        NAME,
        "product",
        ["min_price", "id"],
        unique=False,
        postgresql_where=sa.text("listed"),
        postgresql_include=include,
    )


def upgrade() -> None:
    _recreate(["stocked_variants", "max_price"])


def downgrade() -> None:
    _recreate(["stocked_variants"])
