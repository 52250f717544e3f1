"""Text excerpts of text-like files: plain text (any charset), PDF (pypdfium2), DOCX (python-docx).

Blocking: callers run these in a worker thread. Each reads only what the excerpt needs — a bounded
prefix of a text file, pages until the excerpt is full — so a huge or hostile file costs little.
"""

from __future__ import annotations

import codecs
import re
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TEXT_PREFIX_BYTES = 256 * 1024
MAX_PDF_PAGES_READ = 50
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BLANK_RUNS = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_pdfium_lock = threading.Lock()  # PDFium is not thread-safe
UNREADABLE_PDF = "The PDF could not be read: the file is damaged or not a PDF."
UNREADABLE_DOCX = "The DOCX could not be read: the file is damaged or not a DOCX."


class TextRejected(Exception):
    """The file claims to be a document but cannot be read as one.

    ``str()`` is for the uploader, in their terms; ``detail`` is the library's own text, for the
    log."""

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True)
class TextExcerpt:
    excerpt: str
    truncated: bool
    encoding: str | None = None
    pages: int | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "excerpt": self.excerpt,
            "chars": len(self.excerpt),
            "truncated": self.truncated,
        }
        if self.encoding is not None:
            data["encoding"] = self.encoding
        if self.pages is not None:
            data["pages"] = self.pages
        return data


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _BLANK_RUNS.sub(" ", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


def _cut(text: str, limit: int, *, more: bool) -> tuple[str, bool]:
    text = _clean(text)
    if len(text) > limit:
        return text[:limit], True
    return text, more


def plain_text(path: Path, limit: int) -> TextExcerpt:
    with path.open("rb") as handle:
        data = handle.read(TEXT_PREFIX_BYTES + 1)
    more = len(data) > TEXT_PREFIX_BYTES
    data = data[:TEXT_PREFIX_BYTES]
    text, encoding = _decode(data, final=not more)
    excerpt, truncated = _cut(text, limit, more=more)
    return TextExcerpt(excerpt, truncated, encoding=encoding)


def _decode(data: bytes, *, final: bool) -> tuple[str, str]:
    """UTF-8 when the bytes are valid UTF-8 (a prefix may end inside a character); otherwise
    charset-normalizer's guess, preferring Windows-1252 among guesses that fit about as well:
    short Western texts fit several legacy code pages and 1252 is by far the most used."""
    if not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return codecs.getincrementaldecoder("utf-8-sig")().decode(data, final=final), "utf-8"
        except UnicodeDecodeError:
            pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        return data.decode("utf-8", "replace"), "utf-8"
    best = matches[0]
    for match in matches:
        if match.encoding == "cp1252" and match.chaos <= best.chaos + 0.1:
            best = match
    return str(best), best.encoding


def pdf_text(path: Path, limit: int) -> TextExcerpt:
    import pypdfium2 as pdfium  # type: ignore[import-untyped]

    with _pdfium_lock:
        try:
            document = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as exc:
            raise TextRejected(UNREADABLE_PDF, detail=str(exc)) from exc
        try:
            pages = len(document)
            parts: list[str] = []
            gathered = 0
            read = 0
            for index in range(min(pages, MAX_PDF_PAGES_READ)):
                page = document[index]
                textpage = page.get_textpage()
                text = textpage.get_text_range()
                textpage.close()
                page.close()
                read += 1
                parts.append(text)
                gathered += len(text)
                if gathered > limit * 2:
                    break
        except pdfium.PdfiumError as exc:
            raise TextRejected(UNREADABLE_PDF, detail=str(exc)) from exc
        finally:
            document.close()
    excerpt, truncated = _cut("\n".join(parts), limit, more=read < pages)
    return TextExcerpt(excerpt, truncated, pages=pages)


def check_archive(path: Path, max_total: int, max_ratio: int) -> None:
    """Refuse a ZIP that would expand past ``max_total`` bytes or any member compressed more than
    ``max_ratio`` to 1 (zip bombs), before anything is decompressed."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise TextRejected(UNREADABLE_DOCX, detail=f"{type(exc).__name__}: {exc}") from exc
    total = 0
    for member in members:
        total += member.file_size
        if total > max_total:
            raise TextRejected(f"the archive expands to more than {max_total} bytes")
        compressed = max(member.compress_size, 1)
        if member.file_size > 1024 * 1024 and member.file_size / compressed > max_ratio:
            raise TextRejected(
                f"an archive member is compressed {member.file_size // compressed}:1, "
                f"over the limit of {max_ratio}:1"
            )


def docx_text(path: Path, limit: int, *, max_total: int, max_ratio: int) -> TextExcerpt:
    check_archive(path, max_total, max_ratio)
    import docx

    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises assorted errors for a broken package
        raise TextRejected(UNREADABLE_DOCX, detail=f"{type(exc).__name__}: {exc}"[:300]) from exc
    parts: list[str] = []
    gathered = 0
    more = False
    for paragraph in document.paragraphs:
        if gathered > limit * 2:
            more = True
            break
        parts.append(paragraph.text)
        gathered += len(paragraph.text) + 1
    excerpt, truncated = _cut("\n".join(parts), limit, more=more)
    return TextExcerpt(excerpt, truncated)
