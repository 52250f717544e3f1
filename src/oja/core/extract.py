"""Text out of PDF, DOCX and plain-text files, decided by their bytes, never by their names.

* PDF through pypdfium2: page count and each page's text layer. PDFium is not thread-safe, so every
  use in the process goes through :data:`PDFIUM_LOCK` (other modules reading PDFs take it too).
* DOCX through python-docx: paragraphs and tables in document order, a table row as its cells
  joined by `` | ``. The ZIP is checked for expansion bombs before anything is decompressed.
* Plain text: UTF-8 when it decodes as such, else the charset charset-normalizer finds.

The text is cleaned the same way for every kind: line ends normalised, words hyphenated across a
line end joined, control characters dropped, runs of blanks and blank lines collapsed.

Failures are distinct exceptions with a stable ``code``: :class:`UnsupportedDocument`,
:class:`CorruptDocument`, :class:`EncryptedDocument`, :class:`NoExtractableText` (a scan with no
text layer: Oja does not run OCR). Everything here blocks; async callers use :func:`extract_async`.
"""

from __future__ import annotations

import asyncio
import io
import re
import threading
import zipfile
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

Kind = Literal["pdf", "docx", "txt"]

PDF_MIME = "application/pdf"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TXT_MIME = "text/plain"
MIME_OF_KIND: dict[Kind, str] = {"pdf": PDF_MIME, "docx": DOCX_MIME, "txt": TXT_MIME}
# Text a browser would execute or that is markup rather than prose: not a plain-text document.
_ACTIVE_TEXT = frozenset({"text/html", "text/xml", "image/svg+xml", "application/xml"})
SNIFF_BYTES = 8192
"""Enough bytes for libmagic to tell a DOCX from any other ZIP."""

MAX_ARCHIVE_EXPANSION = 100 * 1024 * 1024
MAX_ARCHIVE_RATIO = 200

PDFIUM_LOCK = threading.Lock()
_magic_lock = threading.Lock()
_magic: Any = None


class ExtractionError(Exception):
    """``str()`` tells the uploader what is wrong with the file in their terms; ``detail`` keeps
    what the parsing library said, for the log only."""

    code: ClassVar[str] = "extraction_failed"

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


class UnsupportedDocument(ExtractionError):
    code = "unsupported_document"


class CorruptDocument(ExtractionError):
    code = "corrupt_document"


class EncryptedDocument(ExtractionError):
    code = "encrypted_document"


class NoExtractableText(ExtractionError):
    code = "no_extractable_text"


@dataclass(frozen=True, slots=True)
class Extracted:
    text: str
    pages: int | None
    """Page count of a PDF; a DOCX's as Word last saved it (None if absent); None for text."""
    kind: Kind
    encoding: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "pages": self.pages, "kind": self.kind}


def sniff_mime(head: bytes) -> str:
    """The MIME type libmagic gives these leading bytes."""
    global _magic
    import magic

    with _magic_lock:  # one libmagic handle is not safe to share between threads
        if _magic is None:
            _magic = magic.Magic(mime=True)
        return str(_magic.from_buffer(head)) or "application/octet-stream"


def kind_of(mime: str) -> Kind | None:
    if mime == PDF_MIME:
        return "pdf"
    if mime == DOCX_MIME:
        return "docx"
    if mime.startswith("text/") and mime not in _ACTIVE_TEXT:
        return "txt"
    return None


def sniff_kind(head: bytes) -> Kind | None:
    """``pdf``, ``docx`` or ``txt`` from the first bytes of a file (:data:`SNIFF_BYTES` suffice)."""
    return kind_of(sniff_mime(head[:SNIFF_BYTES]))


# Each pattern starts with a literal or a small class, so the regex engine scans for it quickly and
# only the rare real hits do work (cleaning stays a small fraction of PDFium's own time).
_HYPHENATED = re.compile(r"[-\u00ad\x02](?<=[^\W\d_].)[ \t]*\n[ \t]*(?=[^\W\d_A-Z])")
# PDFium reports a hyphen it recognises as a line-end break as U+FFFE (or 0x02), line end removed.
_SOFT_HYPHEN = re.compile(r"[\u00ad\x02\ufffe]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufeff\u200b]")
_ODD_BLANKS = re.compile(r"[\t\u00a0\u2000-\u200a\u202f\u3000]")
_SPACE_RUNS = re.compile(r"  +")
_BLANK_LINES = re.compile(r"\n\n\n+")


def clean_text(text: str) -> str:
    """Normalised line ends and blanks; a word split by a hyphen at a line end joined again."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _HYPHENATED.sub("", text)
    text = _SOFT_HYPHEN.sub("", text)
    text = _CONTROL.sub(" ", text)
    text = _ODD_BLANKS.sub(" ", text)
    text = _SPACE_RUNS.sub(" ", text)
    # Runs are single spaces now, so plain replacement strips every line's edges.
    text = text.replace(" \n", "\n").replace("\n ", "\n")
    return _BLANK_LINES.sub("\n\n", text).strip()


def _has_text(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


_DAMAGED_PDF = "The PDF could not be read: the file is damaged or not a PDF."


def pdf_pages(data: bytes) -> list[str]:
    """The raw text of each page (PDFium's line ends), for :func:`extract` and the benchmark."""
    import pypdfium2 as pdfium  # type: ignore[import-untyped]

    with PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            if exc.err_code in (pdfium.raw.FPDF_ERR_PASSWORD, pdfium.raw.FPDF_ERR_SECURITY):
                raise EncryptedDocument(
                    "The PDF is encrypted with a password; Oja cannot read it."
                ) from exc
            raise CorruptDocument(_DAMAGED_PDF, detail=str(exc)) from exc
        try:
            texts = []
            for index in range(len(document)):
                page = document[index]
                try:
                    textpage = page.get_textpage()
                    texts.append(textpage.get_text_range())
                    textpage.close()
                finally:
                    page.close()
            return texts
        except pdfium.PdfiumError as exc:
            raise CorruptDocument(
                "A page of the PDF could not be read: the file is damaged.", detail=str(exc)
            ) from exc
        finally:
            document.close()


def _pdf(data: bytes) -> Extracted:
    pages = pdf_pages(data)
    text = clean_text("\n\n".join(pages))
    if not _has_text(text):
        raise NoExtractableText(
            f"No extractable text: the PDF's {len(pages)} page(s) have no text layer "
            "(a scanned document?); Oja does not run OCR."
        )
    return Extracted(text, len(pages), "pdf")


def _check_archive(archive: zipfile.ZipFile) -> None:
    total = 0
    for member in archive.infolist():
        total += member.file_size
        if total > MAX_ARCHIVE_EXPANSION:
            raise CorruptDocument(
                f"The DOCX expands to more than {MAX_ARCHIVE_EXPANSION} bytes; refused."
            )
        if member.file_size > 1024 * 1024 and member.file_size > MAX_ARCHIVE_RATIO * max(
            member.compress_size, 1
        ):
            raise CorruptDocument("The DOCX holds a member compressed beyond any real document.")


_PAGES = re.compile(rb"<Pages>(\d{1,6})</Pages>")


def _docx(data: bytes) -> Extracted:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            _check_archive(archive)
            try:
                app = archive.read("docProps/app.xml")
            except KeyError:
                app = b""
        document = docx.Document(io.BytesIO(data))
    except CorruptDocument:
        raise
    except Exception as exc:  # python-docx and zipfile raise assorted errors for a broken package
        raise CorruptDocument(
            "The DOCX could not be read: the file is damaged or not a DOCX.",
            detail=f"{type(exc).__name__}: {exc}"[:500],
        ) from exc
    lines: list[str] = []
    for element in document.element.body.iterchildren():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":
            lines.append(Paragraph(element, document).text)
        elif tag == "tbl":
            lines.append("")
            for row in Table(element, document).rows:
                cells: list[str] = []
                seen: set[int] = set()
                for cell in row.cells:  # a merged cell is repeated for every grid column it spans
                    if id(cell._tc) not in seen:
                        seen.add(id(cell._tc))
                        cells.append(cell.text.replace("\n", " ").strip())
                lines.append(" | ".join(cells))
            lines.append("")
    text = clean_text("\n".join(lines))
    if not _has_text(text):
        raise NoExtractableText("No extractable text: the DOCX contains no text.")
    pages = _PAGES.search(app)
    return Extracted(text, int(pages.group(1)) if pages else None, "docx")


def _txt(data: bytes) -> Extracted:
    try:
        decoded, encoding = data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        matches = list(from_bytes(data))
        if not matches:
            raise CorruptDocument(
                "The text file's character encoding cannot be determined."
            ) from None
        # On short text several single-byte charsets decode without any "chaos", and the
        # detector's order among them is arbitrary; Windows-1252 (a superset of Latin-1) is by far
        # the likeliest of those, so it wins the tie.
        calm = min(m.chaos for m in matches)
        tied = [m for m in matches if m.chaos <= calm]
        if any("cp1252" in m.could_be_from_charset for m in tied):
            decoded, encoding = data.decode("cp1252", "replace"), "cp1252"
        else:
            decoded, encoding = str(tied[0]), tied[0].encoding
    text = clean_text(decoded)
    if not _has_text(text):
        raise NoExtractableText("No extractable text: the file is empty or blank.")
    return Extracted(text, None, "txt", encoding)


def extract(data: bytes, kind: Kind | None = None) -> Extracted:
    """The cleaned text of a PDF, DOCX or text file; ``kind`` sniffed from ``data`` when not given."""
    if kind is None:
        mime = sniff_mime(data[:SNIFF_BYTES])
        kind = kind_of(mime)
        if kind is None:
            raise UnsupportedDocument(f"Only PDF, DOCX and plain text are supported, not {mime}.")
    if kind == "pdf":
        return _pdf(data)
    if kind == "docx":
        return _docx(data)
    return _txt(data)


async def extract_async(data: bytes, kind: Kind | None = None) -> Extracted:
    """:func:`extract` in a worker thread, so the event loop keeps serving."""
    return await asyncio.to_thread(extract, data, kind)
