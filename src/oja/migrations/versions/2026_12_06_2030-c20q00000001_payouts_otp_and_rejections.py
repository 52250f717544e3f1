"""payouts: ``otp_required`` payouts (a transfer waiting for its OTP, in flight like ``pending``
and ``processing``), ``rejected`` payout accounts, and the payout log's new actions
(``account_rejected``, ``otp_finalized``, ``otp_resent``)

The CHECK constraints gain the new values and the partial unique index on in-flight payouts is
recreated with ``otp_required`` in its predicate, on both backends.

Revision ID: c20q00000001
Revises: c23z00000001
Create Date: 2026-12-06 20:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c20q00000001"
down_revision: str | None = "c23z00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_PAYOUT = ("pending", "processing", "paid", "failed", "reversed")
NEW_PAYOUT = ("pending", "processing", "otp_required", "paid", "failed", "reversed")
OLD_ACCOUNT = ("active", "pending_approval", "replaced")
NEW_ACCOUNT = (*OLD_ACCOUNT, "rejected")
OLD_ACTIONS = (
    "account_set",
    "account_changed",
    "account_awaiting_approval",
    "account_approved",
    "hold",
    "release",
    "retry",
)
NEW_ACTIONS = (*OLD_ACTIONS, "account_rejected", "otp_finalized", "otp_resent")
OLD_IN_FLIGHT = "status IN ('pending', 'processing')"
NEW_IN_FLIGHT = "status IN ('pending', 'processing', 'otp_required')"
INDEX = "uq_payout_vendor_id_currency_in_flight"


def _check(column: str, values: Sequence[str]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _change(
    payout: Sequence[str], account: Sequence[str], actions: Sequence[str], old: str, new: str
) -> None:
    with op.batch_alter_table("payout", schema=None) as batch_op:
        batch_op.drop_index(INDEX, postgresql_where=sa.text(old), sqlite_where=sa.text(old))
        batch_op.drop_constraint(op.f("ck_payout_status_valid"), type_="check")
        batch_op.create_check_constraint("status_valid", _check("status", payout))
    with op.batch_alter_table("payout", schema=None) as batch_op:
        batch_op.create_index(
            INDEX,
            ["vendor_id", "currency"],
            unique=True,
            postgresql_where=sa.text(new),
            sqlite_where=sa.text(new),
        )
    with op.batch_alter_table("payout_account", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_payout_account_status_valid"), type_="check")
        batch_op.create_check_constraint("status_valid", _check("status", account))
    with op.batch_alter_table("payout_log", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_payout_log_action_valid"), type_="check")
        batch_op.create_check_constraint("action_valid", _check("action", actions))


def upgrade() -> None:
    _change(NEW_PAYOUT, NEW_ACCOUNT, NEW_ACTIONS, OLD_IN_FLIGHT, NEW_IN_FLIGHT)


def downgrade() -> None:
    _change(OLD_PAYOUT, OLD_ACCOUNT, OLD_ACTIONS, NEW_IN_FLIGHT, OLD_IN_FLIGHT)
