"""Date and date-time query parameters that read ISO 8601 text only.

Pydantic's lax mode reads a number as Unix time: ``?created_from=-240277`` became 1969-12-29 and the
list answered 200, though the OpenAPI document (``format: date-time``) promises a date-time and
the fuzzer's negative cases found it. These types keep the documented schema and refuse a bare
number with the usual 422, naming the parameter and the format expected.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator

_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _not_a_number(kind: str) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
            raise ValueError(f"expected an ISO 8601 {kind}, not a number")
        return value

    return check


IsoDateTime = Annotated[
    datetime, BeforeValidator(_not_a_number("date-time, e.g. 2026-01-31T00:00:00Z"))
]
"""A date-time as ISO 8601 text (``2026-01-31T00:00:00Z``); a number is refused."""

IsoDate = Annotated[date, BeforeValidator(_not_a_number("date, e.g. 2026-01-31"))]
"""A date as ISO 8601 text (``2026-01-31``); a number is refused."""
