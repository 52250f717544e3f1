"""marketplace payments, part A: the fee part a store bore on a disputed order (``dispute_order.fee``,
for partial chargebacks)

Revision ID: c20n00000001
Revises: c22t00000001
Create Date: 2026-12-06 20:20:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c20n00000001"
down_revision: str | None = "c22t00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dispute_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fee", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.create_check_constraint("fee_not_negative", "fee >= 0")


def downgrade() -> None:
    with op.batch_alter_table("dispute_order", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_dispute_order_fee_not_negative"), type_="check")
        batch_op.drop_column("fee")
