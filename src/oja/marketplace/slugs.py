"""URL-safe slugs: lowercase ASCII letters and digits joined by single hyphens."""

from __future__ import annotations

import re
import unicodedata
import uuid
from typing import Annotated

from pydantic import Field

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
Slug = Annotated[
    str, Field(min_length=1, max_length=80, pattern=SLUG_PATTERN, examples=["mama-put-foods"])
]
RESERVED = frozenset({"me"})
"""Slugs that would shadow a fixed path (``/vendors/me``)."""


def slugify(text: str, *, max_length: int = 72) -> str:
    """``"Mama Put Foods & Co."`` → ``"mama-put-foods-co"``; ``"item"`` when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:max_length].strip("-")
    return slug or "item"


def with_suffix(slug: str) -> str:
    """``slug`` made unique enough to retry after a collision: a short random suffix."""
    return f"{slug}-{uuid.uuid4().hex[:6]}"


def parse_id(key: str) -> uuid.UUID | None:
    """``key`` as a UUID when it is one (``/vendors/{id_or_slug}``), else ``None``."""
    try:
        return uuid.UUID(key)
    except ValueError:
        return None
