"""marketplace search: a stored ``tsvector`` column, and SQLite's FTS row rewritten only for words

PostgreSQL: ``search_document.words_tsv``, generated (``STORED``) from ``to_tsvector('simple',
words)`` — the database keeps it equal to ``words`` on every insert, upsert and update — with a
GIN index replacing the expression index, so the match and ``ts_rank`` read the stored vector
instead of parsing ``words`` again for every hit. SQLite: the FTS5 update trigger fires only when
``words`` changes (a rating or sales update no longer rewrites the product's FTS row). Neither is
declared by the models (``include_object`` in env.py leaves them out of ``alembic check``).

Revision ID: c22t00000001
Revises: c20p00000001
Create Date: 2026-12-06 18:00:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c22t00000001"
down_revision: str | None = "c20p00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UPDATE_TRIGGER = """CREATE TRIGGER search_document_fts_update AFTER UPDATE {of}ON search_document
    BEGIN
        DELETE FROM search_document_fts WHERE rowid = old.rowid;
        INSERT INTO search_document_fts (rowid, words) VALUES (new.rowid, new.words);
    END"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS search_document_fts_update")
        op.execute(SQLITE_UPDATE_TRIGGER.format(of="OF words "))
        return
    op.execute(
        "ALTER TABLE search_document ADD COLUMN words_tsv tsvector "
        "GENERATED ALWAYS AS (to_tsvector('simple', words)) STORED"
    )
    op.execute(
        "CREATE INDEX ix_search_document_words_tsv_stored ON search_document USING gin (words_tsv)"
    )
    op.execute("DROP INDEX IF EXISTS ix_search_document_words_tsv")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS search_document_fts_update")
        op.execute(SQLITE_UPDATE_TRIGGER.format(of=""))
        return
    op.execute(
        "CREATE INDEX ix_search_document_words_tsv ON search_document "
        "USING gin (to_tsvector('simple', words))"
    )
    op.execute("DROP INDEX IF EXISTS ix_search_document_words_tsv_stored")
    op.execute("ALTER TABLE search_document DROP COLUMN IF EXISTS words_tsv")
