"""store time zones and operator plan changes

``vendor.time_zone``: the store's IANA zone for its reports and daily rollups (NULL follows
``OJA_REPORTS_TIME_ZONE``, which is what every existing store's rollups were counted in);
``vendor.rollup_time_zone``: the zone its stored rollups are in, moved by the rollup job once it
has rebuilt a store's days after a change. ``vendor_plan_change``: the record of operators' plan
changes (who, from, to, why). ``ix_behaviour_event_product_id_created_at``: a store's visitors over
its report's live days read per product, not every store's events of those days once per product.

Revision ID: c23z00000001
Revises: c22h00000001
Create Date: 2026-12-06 20:05:11.682852+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import oja.core.db

revision: str = "c23z00000001"
down_revision: str | None = "c22h00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_behaviour_event_product_id_created_at",
        "behaviour_event",
        ["product_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "vendor_plan_change",
        sa.Column("from_plan", sa.String(length=64), nullable=False),
        sa.Column("to_plan", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", oja.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["user.id"],
            name=op.f("fk_vendor_plan_change_actor_id_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"],
            ["vendor.id"],
            name=op.f("fk_vendor_plan_change_vendor_id_vendor"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vendor_plan_change")),
    )
    with op.batch_alter_table("vendor_plan_change", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vendor_plan_change_vendor_id"), ["vendor_id"], unique=False
        )

    with op.batch_alter_table("vendor", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("rollup_time_zone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_index("ix_behaviour_event_product_id_created_at", table_name="behaviour_event")
    with op.batch_alter_table("vendor", schema=None) as batch_op:
        batch_op.drop_column("rollup_time_zone")
        batch_op.drop_column("time_zone")

    with op.batch_alter_table("vendor_plan_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vendor_plan_change_vendor_id"))

    op.drop_table("vendor_plan_change")
