"""recommendations: a search event's category (``behaviour_event.category_id``), and the ``merge``
kind (an anonymous browser's history attributed to the user who signed in on it)

Revision ID: c22h00000001
Revises: c20n00000001
Create Date: 2026-12-06 20:20:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c22h00000001"
down_revision: str | None = "c20n00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = ("view", "cart", "purchase", "search")
NEW_KINDS = (*OLD_KINDS, "merge")


def _kind_check(kinds: Sequence[str]) -> str:
    return "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"


def upgrade() -> None:
    with op.batch_alter_table("behaviour_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("category_id", sa.Uuid(), nullable=True))
        batch_op.drop_constraint(op.f("ck_behaviour_event_kind_valid"), type_="check")
        batch_op.create_check_constraint("kind_valid", _kind_check(NEW_KINDS))


def downgrade() -> None:
    op.execute("DELETE FROM behaviour_event WHERE kind = 'merge'")
    with op.batch_alter_table("behaviour_event", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_behaviour_event_kind_valid"), type_="check")
        batch_op.create_check_constraint("kind_valid", _kind_check(OLD_KINDS))
        batch_op.drop_column("category_id")
