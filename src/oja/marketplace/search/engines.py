"""The search engine port and its two adapters, PostgreSQL full text and SQLite FTS5.

One contract for both (:class:`SearchEngine`): the query text is split into lowercase words
(:func:`words_of`); a product matches when **every** query word is a prefix of one of its indexed
words. A query word that is a prefix of no indexed word at all is a typo: it is replaced by the
vocabulary words within trigram similarity :attr:`SearchSettings.search_typo_similarity` of it
(any of them matches); with none, nothing matches. Relevance is the engine's own rank
(``ts_rank`` / ``bm25``), ties by product id.

Only the matching clause, the rank and the similar-word lookup differ per engine; filters, sorts,
facets and pagination are the same SQL on both (:mod:`oja.marketplace.search.repository`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Select,
    column,
    false,
    func,
    literal,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from oja.marketplace.search.models import SearchDocument, SearchTerm

WORD = re.compile(r"[^\W_]+")
MAX_QUERY_WORDS = 8
MAX_EXPANSIONS = 20


def words_of(text_: str) -> list[str]:
    """Lowercase words of ``text_`` (letters and digits), in order, duplicates kept."""
    return [w.lower()[:100] for w in WORD.findall(text_)]


def trigrams(word: str) -> set[str]:
    """pg_trgm's trigrams of one word: padded with two spaces before and one after."""
    padded = f"  {word.lower()} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def similarity(a: str, b: str) -> float:
    ta, tb = trigrams(a), trigrams(b)
    union = len(ta | tb)
    return len(ta & tb) / union if union else 0.0


@dataclass(frozen=True)
class Query:
    """Each element: the words any of which must match, as prefixes (``prefix``) or whole."""

    groups: tuple[tuple[str, ...], ...]
    prefix: tuple[bool, ...]

    @property
    def empty(self) -> bool:
        return any(not g for g in self.groups)


class SearchEngine(Protocol):
    name: str

    async def similar_terms(self, db: AsyncSession, word: str, threshold: float) -> list[str]: ...

    def match(self, stmt: Select[Any], query: Query) -> tuple[Select[Any], ColumnElement[Any]]:
        """``stmt`` (over ``search_document``) restricted to ``query``, and its rank expression
        (higher is better)."""


async def has_prefix(db: AsyncSession, word: str) -> bool:
    """Whether an indexed word starts with ``word`` (letters and digits only: no wildcard in it).
    An index look-up on both engines: PostgreSQL's ``LIKE 'w%'`` through the ``text_pattern_ops``
    index; SQLite's ``GLOB 'w*'`` (case-sensitive, so the primary key serves it, where its
    case-insensitive ``LIKE`` would scan the vocabulary)."""
    if db.get_bind().dialect.name == "sqlite":
        match = SearchTerm.term.op("GLOB")(word + "*")
    else:
        match = SearchTerm.term.like(word + "%")
    found = await db.scalar(select(SearchTerm.term).where(match).limit(1))
    return found is not None


async def parse(db: AsyncSession, engine: SearchEngine, q: str, threshold: float) -> Query:
    groups: list[tuple[str, ...]] = []
    prefix: list[bool] = []
    for word in dict.fromkeys(words_of(q[:500])):
        if len(groups) == MAX_QUERY_WORDS:
            break
        if await has_prefix(db, word):
            groups.append((word,))
            prefix.append(True)
        else:
            groups.append(tuple(await engine.similar_terms(db, word, threshold)))
            prefix.append(False)
    return Query(tuple(groups), tuple(prefix))


DOC_TSV: ColumnElement[Any] = literal_column("search_document.words_tsv")
"""The stored ``to_tsvector('simple', words)`` (a generated column, GIN-indexed; PostgreSQL only,
so not declared by the model)."""


class PostgresEngine:
    """The stored ``words_tsv`` with its GIN index, matched and ranked without re-parsing
    ``words`` per hit; typos through ``pg_trgm``'s ``similarity`` over the vocabulary (GIN
    ``gin_trgm_ops`` index on ``search_term.term``). ``stored=False`` computes the vector from
    ``words`` instead (the benchmark's before/after; it needs an expression index to be fair)."""

    name = "postgresql"

    def __init__(self, *, stored: bool = True) -> None:
        self.stored = stored

    async def similar_terms(self, db: AsyncSession, word: str, threshold: float) -> list[str]:
        score = func.similarity(SearchTerm.term, word)
        rows = await db.scalars(
            select(SearchTerm.term)
            .where(SearchTerm.term.op("%")(word), score >= threshold)
            .order_by(score.desc(), SearchTerm.term)
            .limit(MAX_EXPANSIONS)
        )
        return list(rows)

    def match(self, stmt: Select[Any], query: Query) -> tuple[Select[Any], ColumnElement[Any]]:
        if query.empty:
            return stmt.where(false()), literal(0)
        parts = []
        for group, is_prefix in zip(query.groups, query.prefix, strict=True):
            suffix = ":*" if is_prefix else ""
            parts.append("(" + " | ".join(f"{w}{suffix}" for w in group) + ")")
        tsquery = func.to_tsquery(literal_column("'simple'"), " & ".join(parts))
        vector = (
            DOC_TSV
            if self.stored
            else func.to_tsvector(literal_column("'simple'"), SearchDocument.words)
        )
        rank = func.ts_rank(vector, tsquery)
        return stmt.where(vector.op("@@")(tsquery)), rank


FTS = table("search_document_fts", column("rowid"), column("rank"))
DOC_ROWID: ColumnElement[Any] = literal_column("search_document.rowid")


class SqliteEngine:
    """FTS5 (``unicode61``) over ``words``; typos through the FTS5 trigram table
    ``search_term_fts`` (candidates sharing trigrams) scored by pg_trgm's similarity in Python."""

    name = "sqlite"

    async def similar_terms(self, db: AsyncSession, word: str, threshold: float) -> list[str]:
        grams = [g for g in trigrams(word) if " " not in g]
        if not grams:
            return []
        match = " OR ".join(f'"{g}"' for g in sorted(grams))
        rows = await db.execute(
            text(
                "SELECT term FROM search_term_fts WHERE search_term_fts MATCH :m "
                "ORDER BY rank LIMIT 500"
            ),
            {"m": match},
        )
        scored = [(similarity(word, t), t) for (t,) in rows]
        good = sorted((-s, t) for s, t in scored if s >= threshold)
        return [t for _, t in good[:MAX_EXPANSIONS]]

    def match(self, stmt: Select[Any], query: Query) -> tuple[Select[Any], ColumnElement[Any]]:
        if query.empty:
            return stmt.where(false()), literal(0)
        parts = []
        for group, is_prefix in zip(query.groups, query.prefix, strict=True):
            star = "*" if is_prefix else ""
            parts.append("(" + " OR ".join(f'"{w}"{star}' for w in group) + ")")
        joined = stmt.join_from(SearchDocument, FTS, FTS.c.rowid == DOC_ROWID).where(
            literal_column("search_document_fts").op("MATCH")(" AND ".join(parts))
        )
        return joined, -FTS.c.rank


def engine_for(dialect: str) -> SearchEngine:
    return PostgresEngine() if dialect == "postgresql" else SqliteEngine()
