"""marketplace payments, part A: the fee part a store bore on a disputed order (``dispute_order.fee``,
for partial chargebacks); stores' Paystack subaccounts for the native split (``store_subaccount``)

Revision ID: c20n00000001
Revises: c22t00000001
Create Date: 2026-12-06 20:20:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import oja.core.db

revision: str = "c20n00000001"
down_revision: str | None = "c22t00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "store_subaccount",
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("active_from", oja.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", oja.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", oja.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["payout_account.id"],
            name=op.f("fk_store_subaccount_account_id_payout_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"],
            ["vendor.id"],
            name=op.f("fk_store_subaccount_vendor_id_vendor"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_subaccount")),
        sa.UniqueConstraint(
            "vendor_id", "currency", name=op.f("uq_store_subaccount_vendor_id_currency")
        ),
    )
    with op.batch_alter_table("store_subaccount", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_store_subaccount_vendor_id"), ["vendor_id"], unique=False
        )
    with op.batch_alter_table("dispute_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fee", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.create_check_constraint("fee_not_negative", "fee >= 0")


def downgrade() -> None:
    with op.batch_alter_table("store_subaccount", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_store_subaccount_vendor_id"))
    op.drop_table("store_subaccount")
    with op.batch_alter_table("dispute_order", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_dispute_order_fee_not_negative"), type_="check")
        batch_op.drop_column("fee")
