"""catalogue: the listing's price recount reads its product's variants alone

``product_listing_prices`` (migration c18l00000001) recounted a product's prices with
``WHERE product_id = pid AND deleted_at IS NULL``. Every partial index ``WHERE deleted_at IS NULL``
(the live SKUs' unique index, c18n's live price index) matches the second condition whole, and
PL/pgSQL's plan, made while ``product_variant`` looked small (a new store, a bulk import before
ANALYZE), ANDed the whole of one with the ``product_id`` index: every recount read every live
variant of the database. A bulk import of 100,000 rows recounts 50,000 products: quadratic
(issue 18: 651 s, from 188 s before the listing columns).

The liveness test moves into the aggregates (``FILTER``): the only condition left is the product,
which only the ``product_id`` index serves, and ``min``/``max`` with a filter cannot be turned into
a walk along a price index either. Same values: an empty filter gives NULL, as no row did.
SQLite's triggers are unchanged (their subqueries are planned per statement, with the
``product_id`` index).

Revision ID: c18p00000001
Revises: c18n00000001
Create Date: 2026-12-07 01:00:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c18p00000001"
down_revision: str | None = "c18n00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The recount of one product's live prices (``pid``), as the function runs it.
RECOUNT = (
    "SELECT min(v.price) FILTER (WHERE v.deleted_at IS NULL), "
    "max(v.price) FILTER (WHERE v.deleted_at IS NULL) "
    "FROM product_variant AS v WHERE v.product_id = pid"
)
OLD_RECOUNT = (
    "SELECT min(v.price), max(v.price) FROM product_variant AS v "
    "WHERE v.product_id = pid AND v.deleted_at IS NULL"
)

FUNCTION = """CREATE OR REPLACE FUNCTION product_listing_prices(pid uuid, stocked integer)
    RETURNS void LANGUAGE plpgsql SET enable_seqscan = off AS $$
    BEGIN
        PERFORM 1 FROM product WHERE id = pid FOR UPDATE;
        UPDATE product SET stocked_variants = stocked_variants + stocked,
            (min_price, max_price) = ({recount})
        WHERE id = pid;
    END $$"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION.format(recount=RECOUNT))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION.format(recount=OLD_RECOUNT))
