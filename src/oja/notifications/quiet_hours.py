"""Quiet hours: a daily local-time window in which non-mandatory email and SMS wait.

Times are minutes after local midnight in the user's IANA time zone; a window whose end is before
its start spans midnight (22:00–07:00). Deferred, never dropped: a delivery fanned out inside the
window is sent when it ends, computed in local time so a DST change moves it with the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError if there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def as_minutes(text: str) -> int:
    """``"22:30"`` → 1350."""
    parsed = time.fromisoformat(text)
    return parsed.hour * 60 + parsed.minute


def as_text(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def quiet_until(now: datetime, start: int, end: int, time_zone: str) -> datetime | None:
    """When the quiet period ``now`` falls in ends (UTC), or None if ``now`` is not quiet."""
    if start == end:
        return None
    local = now.astimezone(zone(time_zone))
    minute = local.hour * 60 + local.minute
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    if not inside:
        return None
    ends = datetime.combine(local.date(), time(end // 60, end % 60), tzinfo=local.tzinfo)
    if ends <= local:
        ends = datetime.combine(
            local.date() + timedelta(days=1), time(end // 60, end % 60), tzinfo=local.tzinfo
        )
    return ends.astimezone(UTC)
