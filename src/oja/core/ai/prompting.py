"""Putting untrusted text in front of a model as data, and finding it again (local provider, fakes).

The text travels in a user message between :data:`DATA_OPEN` and :data:`DATA_CLOSE`; any
delimiter-like sequence inside it is defanged first, so the text cannot close its own envelope and
pose as instructions that follow it.
"""

from __future__ import annotations

import re

DATA_OPEN = "<document>"
DATA_CLOSE = "</document>"
_DELIMITER = re.compile(r"</?\s*document\s*>", re.IGNORECASE)
_WRAPPED = re.compile(re.escape(DATA_OPEN) + r"\n?(.*?)\n?" + re.escape(DATA_CLOSE), re.DOTALL)


def wrap_data(text: str) -> str:
    return f"{DATA_OPEN}\n{_DELIMITER.sub('[document tag removed]', text)}\n{DATA_CLOSE}"


def unwrap_data(content: str) -> str | None:
    """The data inside the first envelope in ``content``, or None when there is none."""
    match = _WRAPPED.search(content)
    return match.group(1) if match else None


def estimate_tokens(text: str) -> int:
    """About four characters per token for English prose; used where a provider reports nothing."""
    return (len(text) + 3) // 4
