"""Alembic environment: one linear history that runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import importlib

from alembic import context
from sqlalchemy.engine import Connection

from oja.core.db import Base, create_engine, is_sqlite

# Every module that declares tables; Alembic compares this metadata with the database.
MODEL_MODULES = [
    "oja.core.jobs.models",
    "oja.identity.models",
    "oja.identity.sessions.models",
    "oja.identity.otp.models",
    "oja.identity.google.models",
    "oja.identity.mfa.models",
    "oja.identity.api_keys.models",
    "oja.files.models",
    "oja.documents.models",
    "oja.billing.models",
    "oja.rag.models",
    "oja.chat.models",
    "oja.realtime.models",
    "oja.marketplace.vendors.models",
    "oja.marketplace.catalog.models",
    "oja.marketplace.inventory.models",
    "oja.marketplace.pricing.models",
    "oja.marketplace.orders.models",
    "oja.marketplace.imports.models",
    "oja.marketplace.cart.models",
    "oja.marketplace.checkout.models",
    "oja.notifications.models",
    "oja.marketplace.reviews.models",
    "oja.marketplace.recommendations.models",
    "oja.marketplace.search.models",
    "oja.marketplace.ledger.models",
    "oja.marketplace.sources.models",
    "oja.marketplace.payouts.models",
    "oja.marketplace.aliexpress.models",
    "oja.marketplace.plans.models",
    "oja.marketplace.reports.models",
]
for module in MODEL_MODULES:
    importlib.import_module(module)

target_metadata = Base.metadata


SEARCH_FTS = ("search_document_fts", "search_term_fts")
"""SQLite FTS5 tables of the search migration (and their shadow tables)."""
SEARCH_INDEXES = (
    "ix_search_document_words_tsv",
    "ix_search_document_words_tsv_stored",
    "ix_search_term_term_trgm",
    "ix_search_term_term_prefix",
)
"""PostgreSQL expression/GIN indexes of the search migrations."""
SEARCH_COLUMNS = ("words_tsv",)
"""PostgreSQL's generated ``tsvector`` column of ``search_document`` (not declared by the model,
which serves SQLite too)."""


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Leave out what the models cannot declare: SQLite's FTS5 table (and its shadow tables) and
    PostgreSQL's full-text expression index, both created by the rag migration."""
    if type_ == "table" and name is not None and name.startswith("rag_chunk_fts"):
        return False
    if type_ == "table" and name is not None and name.startswith(SEARCH_FTS):
        return False
    if type_ == "column" and name in SEARCH_COLUMNS:
        return False
    return not (type_ == "index" and name in ("ix_rag_chunk_text_tsv", *SEARCH_INDEXES))


def _url() -> str:
    url = context.config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get(
        "url"
    )
    if url:
        return str(url)
    from oja.core.config import get_settings

    return get_settings().database_url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:  # committed on leaving the block
        await connection.run_sync(_run)
    await engine.dispose()


def run_migrations_online() -> None:
    url = _url()
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    if is_sqlite(url):
        from pathlib import Path

        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(_run_async(url))


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
