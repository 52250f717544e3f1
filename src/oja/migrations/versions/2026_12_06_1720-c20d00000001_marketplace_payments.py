"""marketplace payments: a failed attempt's reason on the order group; disputes (dispute,
dispute_order) and the ledger's store_frozen account, dispute entries and transactions; provider
fees (provider_fees account, fee entries, the fee a store bore on its settlement)

The ledger's CHECK constraints gain the new values on both backends. On SQLite, changing a CHECK
recreates ledger_posting, which drops its immutability triggers: they are created again.

Revision ID: c20d00000001
Revises: c23r00000001
Create Date: 2026-12-06 17:20:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import oja.core.db

revision: str = "c20d00000001"
down_revision: str | None = "c23r00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ACCOUNT_KINDS = ("provider_clearing", "platform_revenue", "store_pending", "store_available")
NEW_ACCOUNT_KINDS = (*OLD_ACCOUNT_KINDS, "store_frozen", "provider_fees")
OLD_TRANSACTION_KINDS = ("payment", "refund", "release", "payout", "adjustment")
NEW_TRANSACTION_KINDS = (*OLD_TRANSACTION_KINDS, "dispute", "fee")
OLD_ENTRY_TYPES = (
    "sale",
    "commission",
    "payment",
    "refund",
    "commission_refund",
    "release",
    "payout",
    "adjustment",
)
NEW_ENTRY_TYPES = (*OLD_ENTRY_TYPES, "dispute", "commission_dispute", "fee")


def _check(column: str, values: Sequence[str]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _ledger_checks(accounts: Sequence[str], kinds: Sequence[str], entries: Sequence[str]) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:  # the batch recreates ledger_posting without its triggers
        op.execute("DROP TRIGGER IF EXISTS ledger_posting_no_update")
        op.execute("DROP TRIGGER IF EXISTS ledger_posting_no_delete")
    with op.batch_alter_table("ledger_account", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_ledger_account_kind_valid"), type_="check")
        batch_op.create_check_constraint("kind_valid", _check("kind", accounts))
    with op.batch_alter_table("ledger_transaction", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_ledger_transaction_kind_valid"), type_="check")
        batch_op.create_check_constraint("kind_valid", _check("kind", kinds))
    with op.batch_alter_table("ledger_posting", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_ledger_posting_entry_type_valid"), type_="check")
        batch_op.create_check_constraint("entry_type_valid", _check("entry_type", entries))
    if sqlite:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER ledger_posting_no_{action.lower()} BEFORE {action} "
                "ON ledger_posting BEGIN SELECT RAISE(ABORT, 'ledger postings are immutable'); END"
            )


def upgrade() -> None:
    with op.batch_alter_table("order_group", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failure_reason", sa.String(length=500), nullable=True))
    with op.batch_alter_table("store_settlement", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fee", sa.BigInteger(), server_default="0", nullable=False))
    op.create_table(
        "dispute",
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("provider_dispute_id", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "won",
                "lost",
                name="status_valid",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("provider_status", sa.String(length=40), nullable=False),
        sa.Column("resolution", sa.String(length=40), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("due_at", oja.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("evidence_id", sa.String(length=64), nullable=True),
        sa.Column("evidence_at", oja.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", oja.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", oja.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", oja.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["order_group.id"],
            name=op.f("fk_dispute_group_id_order_group"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute")),
        sa.UniqueConstraint(
            "provider", "provider_dispute_id", name=op.f("uq_dispute_provider_provider_dispute_id")
        ),
    )
    with op.batch_alter_table("dispute", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dispute_group_id"), ["group_id"], unique=False)
        batch_op.create_index(
            "ix_dispute_status_created_at", ["status", "created_at"], unique=False
        )
    op.create_table(
        "dispute_order",
        sa.Column("dispute_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("frozen", sa.BigInteger(), nullable=False),
        sa.Column("commission", sa.BigInteger(), nullable=False),
        sa.Column("from_held", sa.Boolean(), nullable=False),
        sa.Column("created_at", oja.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "frozen >= 0 AND commission >= 0", name=op.f("ck_dispute_order_amounts_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["dispute_id"],
            ["dispute.id"],
            name=op.f("fk_dispute_order_dispute_id_dispute"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["store_order.id"],
            name=op.f("fk_dispute_order_order_id_store_order"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"],
            ["vendor.id"],
            name=op.f("fk_dispute_order_vendor_id_vendor"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute_order")),
        sa.UniqueConstraint(
            "dispute_id", "order_id", name=op.f("uq_dispute_order_dispute_id_order_id")
        ),
    )
    with op.batch_alter_table("dispute_order", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dispute_order_dispute_id"), ["dispute_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_dispute_order_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_dispute_order_vendor_id"), ["vendor_id"], unique=False)
    _ledger_checks(NEW_ACCOUNT_KINDS, NEW_TRANSACTION_KINDS, NEW_ENTRY_TYPES)


def downgrade() -> None:
    _ledger_checks(OLD_ACCOUNT_KINDS, OLD_TRANSACTION_KINDS, OLD_ENTRY_TYPES)
    with op.batch_alter_table("dispute_order", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dispute_order_vendor_id"))
        batch_op.drop_index(batch_op.f("ix_dispute_order_order_id"))
        batch_op.drop_index(batch_op.f("ix_dispute_order_dispute_id"))
    op.drop_table("dispute_order")
    with op.batch_alter_table("dispute", schema=None) as batch_op:
        batch_op.drop_index("ix_dispute_status_created_at")
        batch_op.drop_index(batch_op.f("ix_dispute_group_id"))
    op.drop_table("dispute")
    with op.batch_alter_table("store_settlement", schema=None) as batch_op:
        batch_op.drop_column("fee")
    with op.batch_alter_table("order_group", schema=None) as batch_op:
        batch_op.drop_column("failure_reason")
