"""One clock for the whole code base, always timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored datetime is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
