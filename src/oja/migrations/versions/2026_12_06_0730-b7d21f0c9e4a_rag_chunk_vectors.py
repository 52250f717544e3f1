"""rag: child vectors per chunk (small-chunk/parent dense search)

Existing chunks get no rows here: search scores them by their whole-chunk vector, and
``rag.reindex_stale`` re-indexes their documents in batches (embedding needs the model, not SQL).

Revision ID: b7d21f0c9e4a
Revises: b7a78ee60e04
Create Date: 2026-12-06 07:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7d21f0c9e4a"
down_revision: str | None = "b7a78ee60e04"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rag_chunk_vector",
        sa.Column("chunk_id", sa.Uuid(), nullable=False),
        sa.Column("window_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chunk_id"],
            ["rag_chunk.id"],
            name=op.f("fk_rag_chunk_vector_chunk_id_rag_chunk"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chunk_id", "window_index", name=op.f("pk_rag_chunk_vector")),
    )


def downgrade() -> None:
    op.drop_table("rag_chunk_vector")
