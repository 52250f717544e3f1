"""realtime: the event outbox (events, their topics) and single-use WebSocket tickets

Revision ID: c19r00000001
Revises: 606d3bad0bcd
Create Date: 2026-12-06 10:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import oja.core.db

revision: str = "c19r00000001"
down_revision: str | None = "606d3bad0bcd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "realtime_event",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("data", oja.core.db.JSONValue(), nullable=False),
        sa.Column("topics", oja.core.db.JSONValue(), nullable=False),
        sa.Column("created_at", oja.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("pushed_at", oja.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_realtime_event")),
    )
    with op.batch_alter_table("realtime_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_realtime_event_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_realtime_event_pushed_at"), ["pushed_at"], unique=False
        )

    op.create_table(
        "realtime_event_topic",
        sa.Column("topic", sa.String(length=128), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["realtime_event.id"],
            name=op.f("fk_realtime_event_topic_event_id_realtime_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("topic", "event_id", name=op.f("pk_realtime_event_topic")),
    )
    op.create_table(
        "realtime_ticket",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", oja.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", oja.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", oja.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_realtime_ticket_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_realtime_ticket")),
        sa.UniqueConstraint("digest", name=op.f("uq_realtime_ticket_digest")),
    )
    with op.batch_alter_table("realtime_ticket", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_realtime_ticket_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_realtime_ticket_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("realtime_ticket", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_realtime_ticket_user_id"))
        batch_op.drop_index(batch_op.f("ix_realtime_ticket_expires_at"))

    op.drop_table("realtime_ticket")
    op.drop_table("realtime_event_topic")
    with op.batch_alter_table("realtime_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_realtime_event_pushed_at"))
        batch_op.drop_index(batch_op.f("ix_realtime_event_created_at"))

    op.drop_table("realtime_event")
