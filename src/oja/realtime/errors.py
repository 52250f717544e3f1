"""Realtime errors: a stable ``code`` each and an honest status."""

from __future__ import annotations

from oja.core.errors import ErrorCode, NotFound


class RealtimeErrorCode(ErrorCode):
    REALTIME_STREAM_NOT_FOUND = "realtime_stream_not_found"


class StreamNotFound(NotFound):
    """No such stream, or one the caller may not watch (the same answer, so ids reveal nothing)."""

    code = RealtimeErrorCode.REALTIME_STREAM_NOT_FOUND
