"""Database kernel: engine, declarative base, unit of work — and the only place that commits.

Transaction policy: one unit of work per request or job (:func:`unit_of_work`); services add and
flush, never commit. The few writes that must be durable on their own (attempt counters, progress,
lease and last-used stamps, "record, then raise") go through :func:`own_transaction`. Around them:
:func:`read_only` for reads outside any unit of work, :func:`discard` for a job that gives up its
writes before recording a failure, and :func:`commit_then_raise` for an error that must keep the
unit of work's writes. Nothing outside this module calls ``sessionmaker()``, ``commit()`` or
``rollback()`` (tests/core/test_transaction_policy.py).

Only :func:`unit_of_work` and :func:`own_transaction` commit, and callbacks registered with :func:`after_commit` (job publication) run only once the commit
has succeeded — a rollback drops them. Callbacks registered with :func:`after_rollback` (deleting an
object stored for a row that never committed) run only when the unit of work fails, a failed commit
included.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, NoReturn

import structlog
from sqlalchemy import JSON, DateTime, Enum, MetaData, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedColumn, declared_attr, mapped_column
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import Insert, UpdateBase
from sqlalchemy.types import TypeDecorator, Uuid
from sqlalchemy.util.concurrency import await_, greenlet_spawn

from oja.core.clock import utcnow
from oja.core.ids import uuid7
from oja.core.pool import FairAsyncPool

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value if value.tzinfo else value.replace(tzinfo=UTC)


class JSONValue(TypeDecorator[Any]):
    """JSON on SQLite, JSONB on PostgreSQL (indexable, compact)."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


JSONType = JSONValue()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
        uuid.UUID: Uuid(),
    }


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def one_of(values: Iterable[str], *, name: str, length: int) -> Enum:
    """A string column type limited to ``values`` by ``CHECK`` ``ck_<table>_<name>``.

    Not a native enum: the column is ``VARCHAR(length)`` on every backend, so a value is added by
    changing the constraint, never the type. ``length`` is explicit so that the column never narrows
    to the longest value of the day. Values load as plain ``str``.
    """
    return Enum(
        *(str(value) for value in values),
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
    )


def status_column(statuses: Iterable[str], *, default: str, length: int = 16) -> MappedColumn[str]:
    """``status``, one of ``statuses`` (``CHECK`` ``ck_<table>_status_valid``)."""
    return mapped_column(one_of(statuses, name="status_valid", length=length), default=default)


class StatusMixin(TimestampMixin):
    """A row with a lifecycle: ``status``, one of the class's ``statuses`` and the first of them
    when created, beside ``created_at`` and ``updated_at``."""

    statuses: ClassVar[Iterable[str]]

    @declared_attr
    def status(cls) -> Mapped[str]:
        return status_column(cls.statuses, default=next(iter(cls.statuses)))


def insert_ignore(session: AsyncSession, table: Any) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING`` in the session's dialect (PostgreSQL or SQLite).

    One statement on both backends, so concurrent identical inserts never raise and exactly one
    wins; add ``.values(...)`` and, to learn which one, ``.returning(...)`` (no row on a conflict).
    """
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing()


SQLITE_BUSY_TIMEOUT_MS = 30_000
POOL_RECYCLE_SECONDS = 1800
"""Connections older than this are replaced at checkout, before a server or proxy idle timeout
can cut them under a request."""


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(
    url: str, *, echo: bool = False, pool_size: int = 20, pool_timeout: float = 5.0
) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        # No overflow: an overflow connection is closed as soon as it is returned to a full pool,
        # so under steady concurrency above the pool size every other checkout opened a new one
        # (TCP, the SSL probe, authentication, type codecs, every statement prepared again) —
        # 1.6–1.7 CPU ms per GET /user/me at 64 connections against 1.2–1.4 with a fixed pool of
        # the same 20 connections, and fewer 503s at 256 connections (62 against 200 in the same
        # wrk run). Waiting for a returned connection is cheaper than opening one, and the wait is
        # first come, first served (oja.core.pool), so no waiter is starved into the pool timeout.
        max_overflow=0,
        poolclass=FairAsyncPool,
        # No pre-ping: it cost three round trips per checkout on every request. A connection that
        # died with a restarted server fails its first statement instead; SQLAlchemy then marks
        # the whole pool stale (every connection made before the error is replaced at its next
        # checkout), and that one request answers 503 like any other database outage.
        pool_recycle=POOL_RECYCLE_SECONDS,
        pool_timeout=pool_timeout,
        # No JIT: PostgreSQL compiles any plan whose cost estimate passes `jit_above_cost`
        # (100,000), and the listing's price range (estimate ~420,000) spent 94–202 ms of its
        # 330–380 ms compiling, on every request. Oja's statements are short OLTP reads that
        # never run long enough to repay a compile.
        connect_args={"timeout": 5, "command_timeout": 60, "server_settings": {"jit": "off"}},
    )


class Database:
    """An engine and its session factory; one per process (forked workers make their own)."""

    def __init__(
        self, url: str, *, echo: bool = False, pool_size: int = 20, pool_timeout: float = 5.0
    ) -> None:
        self.url = url
        self.engine = create_engine(url, echo=echo, pool_size=pool_size, pool_timeout=pool_timeout)
        self.session_info: dict[str, Any] = {}
        """Copied into every session's ``info``: how the job outbox travels with its database."""
        self.sessionmaker = async_sessionmaker(
            self.engine, expire_on_commit=False, info=self.session_info
        )
        # Each statement its own transaction: a lone read (the per-request credential check)
        # costs one round trip instead of BEGIN, the read and COMMIT. Never for writes.
        self.autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    async def dispose(self) -> None:
        await self.engine.dispose()


AfterCommit = Callable[[], Awaitable[None]]
_current_session: contextvars.ContextVar[AsyncSession | None] = contextvars.ContextVar(
    "oja_session", default=None
)


def current_session() -> AsyncSession:
    """The session of the unit of work this code runs in."""
    session = _current_session.get()
    if session is None:
        raise RuntimeError("no unit of work is active")
    return session


_UNIT_OF_WORK = "oja.unit_of_work"


def in_unit_of_work(session: AsyncSession) -> bool:
    """Whether ``session`` is a :func:`unit_of_work`'s, the only kind that runs after-commit callbacks."""
    return bool(session.info.get(_UNIT_OF_WORK))


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    session.info.setdefault("oja.after_commit", []).append(callback)


def after_rollback(session: AsyncSession, callback: AfterCommit) -> None:
    """Undo, outside the database, what this unit of work did outside it, should it not commit."""
    session.info.setdefault("oja.after_rollback", []).append(callback)


async def _undo(callbacks: list[AfterCommit]) -> None:
    for callback in callbacks:
        try:
            await callback()
        except Exception as exc:  # the original error is the one to report
            structlog.get_logger("oja.db").warning("db.after_rollback.failed", error=repr(exc))


_KEEP_WRITES = "_oja_commit_then_raise"


def commit_then_raise(error: BaseException) -> NoReturn:
    """Raise ``error`` from a unit of work that commits its writes first (a refused attempt counted).

    Why not :func:`own_transaction`: the record rides on the unit of work's own transaction, which on
    SQLite may already hold the one write lock a second transaction would wait for.
    """
    setattr(error, _KEEP_WRITES, True)
    raise error


@asynccontextmanager
async def unit_of_work(database: Database) -> AsyncIterator[AsyncSession]:
    """One transaction: commit on success, roll back on error, then run after-commit callbacks.

    An error raised through :func:`commit_then_raise` commits like a success (callbacks included),
    then propagates.
    """
    kept: BaseException | None = None
    async with database.sessionmaker() as session:
        session.info[_UNIT_OF_WORK] = True
        token = _current_session.set(session)
        try:
            try:
                yield session
            except BaseException as exc:
                if not getattr(exc, _KEEP_WRITES, False):
                    raise
                kept = exc
            await session.commit()
        except BaseException:
            session.info.pop("oja.after_commit", None)
            undo: list[AfterCommit] = session.info.pop("oja.after_rollback", [])
            try:
                await session.rollback()
            finally:
                await _undo(undo)
            raise
        finally:
            _current_session.reset(token)
        session.info.pop("oja.after_rollback", None)
        callbacks: list[AfterCommit] = session.info.pop("oja.after_commit", [])
    for callback in callbacks:
        await callback()
    if kept is not None:
        raise kept


async def discard(session: AsyncSession) -> None:
    """Give up what the unit of work did so far; it goes on in a new transaction, committed at its end.

    For a job that drops its writes (and its connection, and SQLite's write lock or snapshot) before
    a long wait or before recording a failure. Why not a savepoint: it would keep the connection and
    the lock held. Callbacks registered for the dropped writes go with them: after-commit ones are
    forgotten, after-rollback ones run.
    """
    session.info.pop("oja.after_commit", None)
    undo: list[AfterCommit] = session.info.pop("oja.after_rollback", [])
    try:
        await session.rollback()
    finally:
        await _undo(undo)


@asynccontextmanager
async def _committed(session: AsyncSession) -> AsyncIterator[None]:
    """Commit ``session`` when the block ends, roll it back when it raises."""
    try:
        yield
        await session.commit()
    except BaseException:
        await session.rollback()
        raise


@asynccontextmanager
async def own_transaction(
    database: Database, *, sqlite_busy_timeout_ms: int | None = None
) -> AsyncIterator[AsyncSession]:
    """A short transaction of its own, committed on exit whatever the caller's unit of work does.

    For the writes that must survive a rollback of the surrounding work or be seen before it ends:
    attempt counters, job progress, lease and last-used stamps, a record kept before raising. It is
    not the ambient session (:func:`current_session` still answers the caller's unit of work), and it
    never runs the caller's after-commit callbacks. Keep it to one or two statements: on SQLite it
    waits for the single write lock — for at most ``sqlite_busy_timeout_ms`` when given (a best-effort
    write that must give up fast when the caller's own transaction may hold that lock).
    """
    if sqlite_busy_timeout_ms is None or not is_sqlite(database.url):
        async with database.sessionmaker() as session, _committed(session):
            yield session
        return
    # The patience is a property of one pooled connection, and a session hands its connection back
    # at commit: the session is bound to one connection for the whole block, and the normal
    # patience is restored on that same connection (restoring it through the session set it on
    # whichever connection the pool handed out next, and the short one later failed a writer
    # that expected 30 s with "database is locked" after 200 ms). Not restored: never reused.
    async with database.engine.connect() as conn:
        await conn.exec_driver_sql(f"PRAGMA busy_timeout={sqlite_busy_timeout_ms:d}")
        await conn.commit()
        try:
            async with database.sessionmaker(bind=conn) as session, _committed(session):
                yield session
        finally:
            try:
                await conn.rollback()
                await conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                await conn.commit()
            except BaseException:
                await conn.invalidate()
                raise


@asynccontextmanager
async def read_only(database: Database) -> AsyncIterator[AsyncSession]:
    """A session for reads outside any unit of work (polling a row, a report), rolled back on exit.

    Why not :func:`unit_of_work`: a read needs no COMMIT round trip, and nothing written through it
    can be kept by mistake. It is not the ambient session (:func:`current_session`).
    """
    async with database.sessionmaker() as session:
        yield session


@dataclass(frozen=True)
class _DriverStatement:
    sql: str
    names: tuple[str, ...]
    """The bind parameters' names, in the positional order of ``sql``."""
    binds: tuple[Callable[[Any], Any] | None, ...]
    results: tuple[Callable[[Any], Any] | None, ...]
    literals: dict[str, Any]
    """The values of the statement's own binds (its literals), for the names ``params`` lacks."""

    def args(self, params: dict[str, Any]) -> list[Any]:
        """``params`` (and the statement's own literals) in ``sql``'s order, bind-processed."""
        literals = self.literals
        return [
            value if bind is None else bind(value)
            for value, bind in zip(
                (params[name] if name in params else literals[name] for name in self.names),
                self.binds,
                strict=True,
            )
        ]

    def rows(self, records: Iterable[Any]) -> list[tuple[Any, ...]]:
        """The driver's records as tuples, result-processed as Core processes them."""
        processors = self.results
        return [
            tuple(
                value if p is None else p(value)
                for value, p in zip(record, processors, strict=True)
            )
            for record in records
        ]


class DriverRead:
    """A Core SELECT for the hottest reads (the per-request session check), run outside any
    transaction as :attr:`Database.autocommit_engine` runs it, with rows as plain tuples.

    On PostgreSQL the statement is compiled once and sent on the pooled asyncpg connection itself,
    with the same bind and result processing as Core: SQLAlchemy's execution context, cursor
    adapter and result object cost twice the driver's own work (0.28 against 0.10 CPU ms a
    read). A failure is translated and invalidates the pool as Core does (a dropped connection is
    a 503, nothing retried). Anywhere else — SQLite, or an engine with cursor-execute listeners
    (echo, tracing, the statement-count tests), which need Core's connection — it runs through Core.
    A write runs the same way, as its own autocommit transaction (the job runner's bookkeeping,
    an enqueue's lone INSERT); one without ``RETURNING`` gives no rows.
    """

    def __init__(self, statement: Select[Any] | UpdateBase) -> None:
        self.statement = statement
        self._compiled: _DriverStatement | None = None

    async def rows(self, database: Database, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        engine = database.engine.sync_engine
        listened = engine.dispatch.before_cursor_execute or engine.dispatch.after_cursor_execute
        if engine.dialect.driver != "asyncpg" or listened or engine.echo:
            async with database.autocommit_engine.connect() as conn:
                result = await conn.execute(self.statement, params)
                return [tuple(row) for row in result] if result.returns_rows else []
        compiled = self._compiled or self._compile(engine.dialect)
        return await greenlet_spawn(_fetch, engine, compiled, compiled.args(params))

    def _compile(self, dialect: Dialect) -> _DriverStatement:
        compiled = self.statement.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ())
        binds = tuple(compiled.binds[name].type._cached_bind_processor(dialect) for name in names)
        results = tuple(
            column.type._cached_result_processor(dialect, None)
            for column in compiled._result_columns
        )
        literals = {
            name: compiled.binds[name].effective_value
            for name in names
            if not compiled.binds[name].required
        }
        self._compiled = _DriverStatement(compiled.string, names, binds, results, literals)
        return self._compiled


def _fetch(engine: Engine, compiled: _DriverStatement, args: list[Any]) -> list[tuple[Any, ...]]:
    """Runs in SQLAlchemy's greenlet: check out, fetch, check in (as Core's pool use does)."""
    fairy = engine.raw_connection()
    try:
        adapted: Any = fairy.dbapi_connection
        try:
            records = await_(adapted.driver_connection.fetch(compiled.sql, *args))
        except Exception as error:
            _raise_translated(engine, fairy, adapted, error, sql=compiled.sql, args=args)
    finally:
        fairy.close()
    return compiled.rows(records)


def _raise_translated(
    engine: Engine,
    fairy: PoolProxiedConnection,
    adapted: Any,
    error: Exception,
    *,
    sql: str,
    args: list[Any],
) -> NoReturn:
    """Raise ``error`` as Core would: the dialect's DBAPI error wrapped in SQLAlchemy's, and on a
    disconnect every connection made before it invalidated (replaced at its next checkout)."""
    dialect = engine.dialect
    try:
        adapted._handle_exception(error)  # raises the DBAPI-level translation
    except Exception as dbapi_error:
        disconnect = isinstance(dbapi_error, dialect.loaded_dbapi.Error) and dialect.is_disconnect(
            dbapi_error, adapted, None
        )
        if disconnect:
            engine.pool._invalidate(fairy, dbapi_error)
        raise DBAPIError.instance(
            sql,
            args,
            dbapi_error,
            dialect.loaded_dbapi.Error,
            connection_invalidated=disconnect,
            dialect=dialect,
        ) from error
    raise error  # not reached: the adapter always raises
