"""marketplace payments: the reason an order group's last payment attempt failed

Revision ID: c20d00000001
Revises: c23p00000001
Create Date: 2026-12-06 17:20:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c20d00000001"
down_revision: str | None = "c23p00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("order_group", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failure_reason", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order_group", schema=None) as batch_op:
        batch_op.drop_column("failure_reason")
