"""notifications: quiet hours and the promotions digest (notification_setting), deferred and
held deliveries, throttled ones; store followers (store_follow)

Revision ID: c21n00000002
Revises: c20l00000001
Create Date: 2026-12-06 14:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import oja.core.db

revision: str = "c21n00000002"
down_revision: str | None = "c20l00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = ("pending", "sending", "sent", "delivered", "failed", "uncertain")
NEW_STATUSES = (*OLD_STATUSES, "held", "digested", "throttled")


def _status_check(statuses: Sequence[str]) -> str:
    return "status IN (" + ", ".join(f"'{s}'" for s in statuses) + ")"


def upgrade() -> None:
    op.create_table(
        "store_follow",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", oja.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_store_follow_user_id_user"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"],
            ["vendor.id"],
            name=op.f("fk_store_follow_vendor_id_vendor"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("vendor_id", "user_id", name=op.f("pk_store_follow")),
    )
    with op.batch_alter_table("store_follow", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_store_follow_vendor_id"), ["vendor_id"], unique=False)
    op.create_table(
        "notification_setting",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("quiet_start", sa.SmallInteger(), nullable=True),
        sa.Column("quiet_end", sa.SmallInteger(), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("promotions_digest", sa.Boolean(), nullable=False),
        sa.Column("updated_at", oja.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_notification_setting_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_setting")),
    )
    with op.batch_alter_table("notification_delivery", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("send_after", oja.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("digest_id", sa.Uuid(), nullable=True))
        batch_op.drop_constraint(op.f("ck_notification_delivery_status_valid"), type_="check")
        batch_op.create_check_constraint("status_valid", _status_check(NEW_STATUSES))
        batch_op.create_index(
            "ix_notification_delivery_status_created_at", ["status", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("notification_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_delivery_status_created_at")
        batch_op.drop_constraint(op.f("ck_notification_delivery_status_valid"), type_="check")
        batch_op.create_check_constraint("status_valid", _status_check(OLD_STATUSES))
        batch_op.drop_column("digest_id")
        batch_op.drop_column("send_after")
    op.drop_table("notification_setting")
    op.drop_table("store_follow")
