"""search: the category index carries what a search by category reads; the listing counts from
a one-value index

``GET /search?category=…`` materialises its matched rows (product, store, category, price,
rating, creation time) for the page, the total and the facets. Each came from the heap, whose rows
are wide (the words and their vector): 317 of the statement's 477 buffers for a category of 392
products on 10,000 seeded products, the whole table (696 blocks) for a root category. With those
columns included in the category index the rows are an index-only scan. ``sales`` is left out:
only the best-selling sort reads it, and an indexed column would turn every payment's sales
increment into a non-HOT update of every index of the table. PostgreSQL only: SQLite has no
INCLUDE, its index is unchanged.

``GET /products`` without filters counts its total (every listed product) with an index-only scan
of the narrowest index whose predicate is ``listed`` (98 buffers of the statement's 408 on 10,000
products). ``ix_product_listed`` indexes the one value ``listed`` (true) under the same
predicate: deduplicated into posting lists it is 11 pages, and the count reads those. ``listed``
is already a predicate column of the listing's indexes, so no update that was HOT stops being so.

Built inside the migration's transaction as the earlier index migrations are: the new index is
created first (a ``SHARE`` lock: index writes wait, searches go on), then the old one dropped and
the new renamed (``ACCESS EXCLUSIVE`` for the instant to the commit). On a catalogue far larger
than a build's pause allows, create it beforehand with ``CREATE INDEX CONCURRENTLY`` under the
temporary name (and ``ix_product_listed`` under its own), then run this migration: it builds
neither again (``IF NOT EXISTS``), and only drops and renames.

Revision ID: c25s00000001
Revises: c18t00000001
Create Date: 2026-12-07 16:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c25s00000001"
down_revision: str | None = "c18t00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_search_document_category_id"
BUILDING = "ix_search_document_category_id_c25s"
INCLUDE = ["vendor_id", "price", "rating", "created_at", "product_id"]


def _swap(include: list[str]) -> None:
    if include:
        op.execute(
            f"CREATE INDEX IF NOT EXISTS {BUILDING} ON search_document (category_id) "
            f"INCLUDE ({', '.join(include)})"
        )
    else:
        op.execute(f"CREATE INDEX IF NOT EXISTS {BUILDING} ON search_document (category_id)")
    op.execute(f"DROP INDEX {NAME}")
    op.execute(f"ALTER INDEX {BUILDING} RENAME TO {NAME}")


COUNT = "ix_product_listed"


def upgrade() -> None:
    op.create_index(
        COUNT,
        "product",
        ["listed"],
        unique=False,
        postgresql_where=sa.text("listed"),
        sqlite_where=sa.text("listed"),
        if_not_exists=True,
    )
    if op.get_bind().dialect.name == "postgresql":
        _swap(INCLUDE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _swap([])
    op.drop_index(COUNT, table_name="product")
