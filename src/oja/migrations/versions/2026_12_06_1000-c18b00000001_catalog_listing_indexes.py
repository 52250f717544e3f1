"""catalog: listing indexes (variants by price)

Revision ID: c18b00000001
Revises: c18e00000002
Create Date: 2026-12-06 10:00:00.000000+00:00

``GET /products`` sorted by price walks each product's cheapest variant in price order and stops
at the page; the price range filter reads the same index (bench/products.py, issue 18).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c18b00000001"
down_revision: str | None = "c18e00000002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_product_variant_price", "product_variant", ["price"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_product_variant_price", table_name="product_variant")
