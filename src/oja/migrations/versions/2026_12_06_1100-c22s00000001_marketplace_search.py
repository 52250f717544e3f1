"""marketplace search: the index table, attribute pairs, the vocabulary, and per-engine indexes

PostgreSQL: ``pg_trgm``, a GIN index on ``to_tsvector('simple', words)``, a trigram GIN index
and a ``text_pattern_ops`` (prefix) index on the vocabulary. SQLite: FTS5 tables ``search_document_fts`` (unicode61) and ``search_term_fts``
(trigram tokenizer, SQLite >= 3.34) kept equal to their tables by triggers. Neither engine's extras
are declared by the models (``include_object`` in env.py leaves them out of ``alembic check``).

Revision ID: c22s00000001
Revises: c22r00000001
Create Date: 2026-12-06 11:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import oja.core.db

revision: str = "c22s00000001"
down_revision: str | None = "c22r00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE search_document_fts USING fts5("
    "words, tokenize = 'unicode61 remove_diacritics 0')",
    """CREATE TRIGGER search_document_fts_insert AFTER INSERT ON search_document BEGIN
        INSERT INTO search_document_fts (rowid, words) VALUES (new.rowid, new.words);
    END""",
    """CREATE TRIGGER search_document_fts_delete AFTER DELETE ON search_document BEGIN
        DELETE FROM search_document_fts WHERE rowid = old.rowid;
    END""",
    """CREATE TRIGGER search_document_fts_update AFTER UPDATE ON search_document BEGIN
        DELETE FROM search_document_fts WHERE rowid = old.rowid;
        INSERT INTO search_document_fts (rowid, words) VALUES (new.rowid, new.words);
    END""",
    "CREATE VIRTUAL TABLE search_term_fts USING fts5(term, tokenize = 'trigram')",
    """CREATE TRIGGER search_term_fts_insert AFTER INSERT ON search_term BEGIN
        INSERT INTO search_term_fts (rowid, term) VALUES (new.rowid, new.term);
    END""",
    """CREATE TRIGGER search_term_fts_delete AFTER DELETE ON search_term BEGIN
        DELETE FROM search_term_fts WHERE rowid = old.rowid;
    END""",
]
SQLITE_TRIGGERS = [
    "search_document_fts_insert",
    "search_document_fts_delete",
    "search_document_fts_update",
    "search_term_fts_insert",
    "search_term_fts_delete",
]


def upgrade() -> None:
    op.create_table(
        "search_document",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("category_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("words", sa.Text(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("sales", sa.BigInteger(), nullable=False),
        sa.Column("created_at", oja.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
            name=op.f("fk_search_document_category_id_category"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["product.id"],
            name=op.f("fk_search_document_product_id_product"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"],
            ["vendor.id"],
            name=op.f("fk_search_document_vendor_id_vendor"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_search_document")),
    )
    op.create_index(
        op.f("ix_search_document_category_id"), "search_document", ["category_id"], unique=False
    )
    op.create_index(
        op.f("ix_search_document_vendor_id"), "search_document", ["vendor_id"], unique=False
    )
    op.create_index("ix_search_document_price", "search_document", ["price"], unique=False)
    op.create_index(
        "ix_search_document_created_at", "search_document", ["created_at"], unique=False
    )
    op.create_table(
        "search_attribute",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["search_document.product_id"],
            name=op.f("fk_search_attribute_product_id_search_document"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", "name", "value", name=op.f("pk_search_attribute")),
    )
    op.create_index(
        "ix_search_attribute_name_value", "search_attribute", ["name", "value"], unique=False
    )
    op.create_table(
        "search_term",
        sa.Column("term", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("term", name=op.f("pk_search_term")),
    )
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_search_document_words_tsv ON search_document "
            "USING gin (to_tsvector('simple', words))"
        )
        op.execute(
            "CREATE INDEX ix_search_term_term_trgm ON search_term USING gin (term gin_trgm_ops)"
        )
        # Prefix look-ups (``term LIKE 'sams%'``) under any collation (the primary key's btree
        # serves them only under "C").
        op.execute("CREATE INDEX ix_search_term_term_prefix ON search_term (term text_pattern_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS search_term_fts")
        op.execute("DROP TABLE IF EXISTS search_document_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_search_term_term_prefix")
        op.execute("DROP INDEX IF EXISTS ix_search_term_term_trgm")
        op.execute("DROP INDEX IF EXISTS ix_search_document_words_tsv")
    op.drop_table("search_term")
    op.drop_index("ix_search_attribute_name_value", table_name="search_attribute")
    op.drop_table("search_attribute")
    op.drop_index("ix_search_document_created_at", table_name="search_document")
    op.drop_index("ix_search_document_price", table_name="search_document")
    op.drop_index(op.f("ix_search_document_vendor_id"), table_name="search_document")
    op.drop_index(op.f("ix_search_document_category_id"), table_name="search_document")
    op.drop_table("search_document")
