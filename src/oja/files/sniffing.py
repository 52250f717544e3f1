"""What a file is, decided from its bytes (libmagic), never from its name or declared type."""

from __future__ import annotations

import threading
from typing import Literal

import magic

SNIFF_BYTES = 8192
"""Bytes buffered before sniffing: enough for libmagic to tell a DOCX from a plain ZIP."""

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
IMAGE_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/webp", "image/gif", "image/tiff", "image/avif"}
    | {"image/heic", "image/heif"}
)
TEXT_TYPES = frozenset({"application/json", "application/pdf", DOCX, "application/csv"})
# Markup a browser would execute: kept and downloadable, but never treated as text or image.
ACTIVE_TYPES = frozenset({"text/html", "text/xml", "application/xml", "image/svg+xml"})

Kind = Literal["image", "text", "pdf", "docx", "other"]

_lock = threading.Lock()
_magic: magic.Magic | None = None


def sniff(head: bytes) -> str:
    """The MIME type libmagic gives the first bytes of a file."""
    global _magic
    with _lock:  # a libmagic handle is not safe to share between threads
        if _magic is None:
            _magic = magic.Magic(mime=True)
        return str(_magic.from_buffer(head)) or "application/octet-stream"


def kind_of(content_type: str) -> Kind:
    if content_type in IMAGE_TYPES:
        return "image"
    if content_type == "application/pdf":
        return "pdf"
    if content_type == DOCX:
        return "docx"
    if content_type in ACTIVE_TYPES:
        return "other"
    if content_type.startswith("text/") or content_type in TEXT_TYPES:
        return "text"
    return "other"
