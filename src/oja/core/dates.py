"""Date and date-time parameters and body fields that read ISO 8601 text only.

Pydantic's lax mode reads a number as Unix time: ``?created_from=-240277`` became 1969-12-29 and the
list answered 200, though the OpenAPI document (``format: date-time``) promises a date-time and
the fuzzer's negative cases found it. These types keep the documented schema and refuse a bare
number with the usual 422, naming the parameter and the format expected.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator

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

IsoAwareDateTime = Annotated[
    AwareDatetime,
    BeforeValidator(_not_a_number("date-time with its offset, e.g. 2026-01-31T00:00:00Z")),
]
"""A body field's date-time as ISO 8601 text with an offset; a JSON number is refused (pydantic's
lax mode read ``"expires_at": 1700000000`` as Unix time, against the documented ``format:
date-time``)."""
