"""rag: chunks with their vectors, the index version log, the keyword indexes, document.indexed_at

SQLite gets an FTS5 table kept equal to ``rag_chunk`` by triggers (cascaded deletes included);
PostgreSQL gets a GIN index on ``to_tsvector('english', text)``. Neither is declared by the models
(``include_object`` in env.py leaves them out of ``alembic check``).

Revision ID: 5e0c3a9d71b2
Revises: 0effb400a67c
Create Date: 2026-11-25 12:45:00.000000+00:00
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import oja.core.db

revision: str = "5e0c3a9d71b2"
down_revision: str | None = "0effb400a67c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE rag_chunk_fts USING fts5(text, tokenize = 'porter unicode61')",
    """CREATE TRIGGER rag_chunk_fts_insert AFTER INSERT ON rag_chunk BEGIN
        INSERT INTO rag_chunk_fts (rowid, text) VALUES (new.rowkey, new.text);
    END""",
    """CREATE TRIGGER rag_chunk_fts_delete AFTER DELETE ON rag_chunk BEGIN
        DELETE FROM rag_chunk_fts WHERE rowid = old.rowkey;
    END""",
    """CREATE TRIGGER rag_chunk_fts_update AFTER UPDATE OF text, rowkey ON rag_chunk BEGIN
        DELETE FROM rag_chunk_fts WHERE rowid = old.rowkey;
        INSERT INTO rag_chunk_fts (rowid, text) VALUES (new.rowkey, new.text);
    END""",
]


def upgrade() -> None:
    op.add_column(
        "document", sa.Column("indexed_at", oja.core.db.UTCDateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "rag_chunk",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rowkey", sa.BigInteger(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("start_char", sa.Integer(), nullable=False),
        sa.Column("end_char", sa.Integer(), nullable=False),
        sa.Column("token_count", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("embedding_model", sa.String(length=200), nullable=False),
        sa.Column("embedding_dim", sa.Integer(), nullable=False),
        sa.Column("created_at", oja.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["document.id"],
            name=op.f("fk_rag_chunk_document_id_document"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rag_chunk")),
        sa.UniqueConstraint(
            "document_id", "chunk_index", name=op.f("uq_rag_chunk_document_id_chunk_index")
        ),
        sa.UniqueConstraint("rowkey", name=op.f("uq_rag_chunk_rowkey")),
    )
    op.create_index(op.f("ix_rag_chunk_document_id"), "rag_chunk", ["document_id"], unique=False)
    op.create_index(
        "ix_rag_chunk_owner_id_embedding_model",
        "rag_chunk",
        ["owner_id", "embedding_model"],
        unique=False,
    )
    op.create_table(
        "rag_index_change",
        sa.Column("version", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", oja.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", "document_id", name=op.f("pk_rag_index_change")),
    )
    state = op.create_table(
        "rag_index_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("epoch", sa.Uuid(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rag_index_state")),
    )
    op.bulk_insert(state, [{"id": 1, "epoch": uuid.uuid4(), "version": 0}])
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    else:
        op.execute(
            "CREATE INDEX ix_rag_chunk_text_tsv ON rag_chunk "
            "USING gin (to_tsvector('english', text))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS rag_chunk_fts_{name}")
        op.execute("DROP TABLE IF EXISTS rag_chunk_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_rag_chunk_text_tsv")
    op.drop_table("rag_index_state")
    op.drop_table("rag_index_change")
    op.drop_index("ix_rag_chunk_owner_id_embedding_model", table_name="rag_chunk")
    op.drop_index(op.f("ix_rag_chunk_document_id"), table_name="rag_chunk")
    op.drop_table("rag_chunk")
    with op.batch_alter_table("document") as batch:
        batch.drop_column("indexed_at")
