"""marketplace: ``store_paid_out``, the running total per store and currency of what reached the
store (payouts ``paid`` plus shares Paystack's split settled), read by ``GET /vendors/me/balance``

Filled from what exists: the ``paid`` payouts and the store postings of ``split:`` transactions.

Revision ID: c20r00000001
Revises: c18m00000001
Create Date: 2026-12-06 21:00:00.000000+00:00
"""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import oja.core.db

revision: str = "c20r00000001"
down_revision: str | None = "c18m00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAID = sa.text(
    "SELECT vendor_id, currency, SUM(amount) FROM payout WHERE status = 'paid' GROUP BY vendor_id, currency"
)
SPLIT = sa.text(
    "SELECT p.vendor_id, p.currency, SUM(p.amount) FROM ledger_posting p"
    " JOIN ledger_transaction t ON t.id = p.transaction_id"
    " WHERE t.source LIKE 'split:%' AND p.vendor_id IS NOT NULL AND p.entry_type = 'payout'"
    " GROUP BY p.vendor_id, p.currency"
)


def upgrade() -> None:
    table = op.create_table(
        "store_paid_out",
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("paid_out", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", oja.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vendor_id"],
            ["vendor.id"],
            name=op.f("fk_store_paid_out_vendor_id_vendor"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_paid_out")),
        sa.UniqueConstraint(
            "vendor_id", "currency", name=op.f("uq_store_paid_out_vendor_id_currency")
        ),
    )
    with op.batch_alter_table("store_paid_out", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_store_paid_out_vendor_id"), ["vendor_id"], unique=False
        )
    bind = op.get_bind()
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for query in (PAID, SPLIT):
        for vendor_id, currency, amount in bind.execute(query).all():
            totals[(str(vendor_id), currency)] += int(amount or 0)
    now = datetime.now(UTC)
    rows = [
        {
            "id": uuid.uuid4(),
            "vendor_id": uuid.UUID(vendor_id),
            "currency": currency,
            "paid_out": amount,
            "updated_at": now,
        }
        for (vendor_id, currency), amount in totals.items()
    ]
    if rows and table is not None:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    with op.batch_alter_table("store_paid_out", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_store_paid_out_vendor_id"))
    op.drop_table("store_paid_out")
