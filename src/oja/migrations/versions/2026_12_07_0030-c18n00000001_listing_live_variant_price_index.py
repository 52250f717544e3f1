"""catalogue: the live variants' prices with their product, on an index

``GET /products?min_price=…&max_price=…`` looks at the variants of the products that straddle the
range (cheapest below it, dearest above it): PostgreSQL hashes the ids of the products with a
live variant in the range, once for the page and once for the total, and read them from the
heap (23,000 rows, 4,700 blocks each time on the bench, issue 18). With the price over the live
variants and the product id included, both are index-only scans. SQLite has no INCLUDE: there
the index is the live variants' price alone.

Revision ID: c18n00000001
Revises: c20r00000001
Create Date: 2026-12-07 00:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c18n00000001"
down_revision: str | None = "c20r00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_product_variant_live_price"


def upgrade() -> None:
    # No batch: a plain CREATE INDEX on SQLite, so the table (and the listing's triggers on it)
    # is not rebuilt.
    live = sa.text("deleted_at IS NULL")
    op.create_index(
        NAME,
        "product_variant",
        ["price"],
        unique=False,
        postgresql_where=live,
        sqlite_where=live,
        postgresql_include=["product_id"],
    )


def downgrade() -> None:
    op.drop_index(NAME, table_name="product_variant")
