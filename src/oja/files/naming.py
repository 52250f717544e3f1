"""Client file names are metadata: sanitised for display and download, never used in a key."""

from __future__ import annotations

import unicodedata

MAX_FILENAME_CHARS = 200
MAX_EXTENSION_CHARS = 16
FALLBACK_FILENAME = "upload"


def _invisible(ch: str) -> bool:
    # Control, format (bidi overrides), surrogate, private-use, unassigned; line/paragraph breaks.
    category = unicodedata.category(ch)
    return category[0] == "C" or category in {"Zl", "Zp"}


def sanitize_filename(raw: str | None) -> str:
    """The last path segment of ``raw`` (``/`` and ``\\`` separators, drive letters removed),
    NFC-normalised, without control, format or surrogate characters, without leading dots or
    spaces, at most :data:`MAX_FILENAME_CHARS` characters with its extension kept. Unicode letters
    stay. Never empty."""
    if not raw:
        return FALLBACK_FILENAME
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    if len(name) >= 2 and name[1] == ":" and name[0].isascii() and name[0].isalpha():
        name = name[2:]  # "C:x" — a drive-relative Windows path
    name = "".join(ch for ch in name if not _invisible(ch))
    name = name.strip(" .")
    if not name:
        return FALLBACK_FILENAME
    if len(name) <= MAX_FILENAME_CHARS:
        return name
    stem, dot, extension = name.rpartition(".")
    if dot and stem and 0 < len(extension) <= MAX_EXTENSION_CHARS:
        return stem[: MAX_FILENAME_CHARS - len(extension) - 1].rstrip(" .") + "." + extension
    return name[:MAX_FILENAME_CHARS].rstrip(" .")
