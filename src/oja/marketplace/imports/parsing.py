"""Reading an import file: the format told from its bytes, the header normalised, rows streamed.

A CSV is read through the ``csv`` module on a text stream and an XLSX through openpyxl in
``read_only`` mode, so memory holds one row at a time, never the sheet. :func:`parse_row` turns a
row's cells into a :class:`Row` or raises :class:`RowError` with the reason shown in the report.

An empty cell means "not given": on a new variant the default applies, on an existing one the
value stays as it is.
"""

from __future__ import annotations

import csv
import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from oja.marketplace.catalog.models import ProductStatus
from oja.marketplace.imports.models import ImportFormat

REQUIRED_COLUMNS = ("title", "sku", "price")
COLUMNS = (
    "title",
    "description",
    "sku",
    "price",
    "currency",
    "stock",
    "status",
    "category",
    "options",
    "image_urls",
    "handle",
    "compare_at_price",
    "low_stock_threshold",
    "weight_grams",
    "attributes",
)
MAX_AMOUNT = 10**15
MAX_COUNT = 10**9
MAX_OPTIONS = 20
MAX_ATTRIBUTES = 50
MAX_IMAGES = 10
MAX_CELL_CHARS = 20_000
ZIP_MAGIC = b"PK\x03\x04"
_CURRENCY = re.compile(r"[A-Z]{3}")
_URL = re.compile(r"https?://[^\s/?#]+[^\s]*", re.IGNORECASE)
_IMAGE_SEPARATORS = re.compile(r"[|\s]+")


class UnreadableFile(ValueError):
    """The file cannot be read as a sheet at all; the message says why (the import fails)."""


class RowError(ValueError):
    """The row cannot be imported; the message is the reason in the report."""


@dataclass(slots=True)
class Row:
    number: int
    sku: str
    title: str
    product_key: str
    """The handle when given, else the title: rows with the same key are one product."""
    price: int
    description: str | None = None
    currency: str | None = None
    stock: int | None = None
    status: str | None = None
    category: str | None = None
    options: dict[str, str] | None = None
    image_urls: list[str] = field(default_factory=list)
    compare_at_price: int | None = None
    low_stock_threshold: int | None = None
    weight_grams: int | None = None
    attributes: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    """A row that could not even be parsed: its number, whatever SKU it named, and why."""

    number: int
    sku: str | None
    reason: str


def detect_format(head: bytes) -> ImportFormat | None:
    """XLSX (a ZIP) or CSV (UTF-8 text without NUL), from the first bytes; None otherwise."""
    if head.startswith(ZIP_MAGIC):
        return ImportFormat.xlsx
    if b"\x00" in head:
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The head may end inside a multi-byte character; anything earlier is not UTF-8.
        if exc.start < len(head) - 3:
            return None
    return ImportFormat.csv


def normalise_header(name: object) -> str:
    """``" Compare-At  Price "`` → ``compare_at_price``."""
    text = "" if name is None else str(name)
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


@dataclass
class Sheet:
    """An open import file: its known columns, what it had besides, and its rows."""

    columns: list[str | None]
    """Per position, the known column it holds (None: unknown or a repeat)."""
    unknown: list[str]
    missing: list[str]
    rows: Iterator[tuple[int, dict[str, str]]]
    """``(row number, {column: cell text})`` of every non-blank data row; the header is row 1."""


def _sheet(header: list[object], cells: Iterator[list[object]]) -> Sheet:
    columns: list[str | None] = []
    unknown: list[str] = []
    seen: set[str] = set()
    for raw in header:
        name = normalise_header(raw)
        if name in COLUMNS and name not in seen:
            seen.add(name)
            columns.append(name)
        else:
            columns.append(None)
            if name and name not in COLUMNS and name not in unknown:
                unknown.append(name)
    missing = [name for name in REQUIRED_COLUMNS if name not in seen]

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        for number, values in enumerate(cells, start=2):
            row = {
                name: _cell(value)
                for name, value in zip(columns, values, strict=False)
                if name is not None
            }
            if any(row.values()):
                yield number, row

    return Sheet(columns, unknown, missing, rows())


def _csv_rows(reader: Any) -> Iterator[list[object]]:
    try:
        yield from reader
    except csv.Error as exc:  # a field over the csv module's limit, a NUL…
        raise UnreadableFile(f"The CSV cannot be read at line {reader.line_num}: {exc}") from exc


@contextmanager
def open_sheet(path: Path, fmt: ImportFormat) -> Iterator[Sheet]:
    """The file's first sheet, streamed; :class:`UnreadableFile` when it cannot be read at all."""
    if fmt == ImportFormat.csv:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as text:
            reader = csv.reader(text)
            header = next(reader, None)
            if header is None:
                raise UnreadableFile("The file is empty.")
            yield _sheet(list(header), _csv_rows(reader))
        return
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is no workbook
        raise UnreadableFile(
            f"The file is not a readable XLSX workbook ({type(exc).__name__})."
        ) from exc
    try:
        worksheet = workbook.worksheets[0] if workbook.worksheets else None
        if worksheet is None:
            raise UnreadableFile("The workbook has no sheet.")
        values = worksheet.iter_rows(values_only=True)
        header = next(values, None)
        if header is None:
            raise UnreadableFile("The first sheet is empty.")
        yield _sheet(list(header), (list(r) for r in values))
    finally:
        workbook.close()


def count_rows(path: Path, fmt: ImportFormat) -> int:
    """Non-blank data rows: a quick first pass, so progress can say "n of total"."""
    with open_sheet(path, fmt) as sheet:
        return sum(1 for _ in sheet.rows)


# Cells


def _text(row: dict[str, str], name: str, limit: int) -> str | None:
    value = row.get(name, "")
    if not value:
        return None
    if len(value) > limit:
        raise RowError(f"{name} is longer than {limit} characters")
    if "\x00" in value:
        raise RowError(f"{name} contains a NUL character")
    return value


def _integer(row: dict[str, str], name: str, maximum: int) -> int | None:
    value = row.get(name, "").replace(",", "").replace("_", "")
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        if re.fullmatch(r"-?\d*\.\d+", value):
            raise RowError(f"{name} must be a whole number (minor units), got {value!r}") from None
        raise RowError(f"{name} must be a whole number, got {value[:40]!r}") from None
    if number < 0:
        raise RowError(f"{name} cannot be negative")
    if number > maximum:
        raise RowError(f"{name} is larger than {maximum}")
    return number


def _pairs(value: str, name: str, limit: int) -> dict[str, str]:
    """``size=M;color=red`` → ``{"size": "M", "color": "red"}``."""
    pairs: dict[str, str] = {}
    for part in value.split(";"):
        if not part.strip():
            continue
        key, sep, item = part.partition("=")
        key, item = key.strip(), item.strip()
        if not sep or not key:
            raise RowError(f"{name} must look like key=value;key=value, got {part.strip()[:40]!r}")
        pairs[key] = item
    if len(pairs) > limit:
        raise RowError(f"{name} has more than {limit} entries")
    return pairs


def _attributes(row: dict[str, str]) -> dict[str, Any] | None:
    value = _text(row, "attributes", MAX_CELL_CHARS)
    if value is None:
        return None
    if value.startswith("{"):
        try:
            loaded = json.loads(value)
        except json.JSONDecodeError:
            raise RowError("attributes is not valid JSON") from None
        if not isinstance(loaded, dict):
            raise RowError("attributes must be a JSON object")
        if len(loaded) > MAX_ATTRIBUTES:
            raise RowError(f"attributes has more than {MAX_ATTRIBUTES} entries")
        return loaded
    return dict(_pairs(value, "attributes", MAX_ATTRIBUTES))


def _image_urls(row: dict[str, str]) -> list[str]:
    value = row.get("image_urls", "")
    urls = [url for url in _IMAGE_SEPARATORS.split(value) if url]
    for url in urls:
        if len(url) > 2000 or not _URL.fullmatch(url):
            raise RowError(f"image_urls: {url[:60]!r} is not an http(s) URL")
    if len(urls) > MAX_IMAGES:
        raise RowError(f"image_urls has more than {MAX_IMAGES} URLs")
    return list(dict.fromkeys(urls))


def parse_row(number: int, row: dict[str, str]) -> Row:
    """The row's values, checked; :class:`RowError` names the first problem found."""
    sku = _text(row, "sku", 64)
    if sku is None:
        raise RowError("sku is required")
    title = _text(row, "title", 200)
    if title is None:
        raise RowError("title is required")
    price = _integer(row, "price", MAX_AMOUNT)
    if price is None:
        raise RowError("price is required")
    currency = row.get("currency", "").upper() or None
    if currency is not None and not _CURRENCY.fullmatch(currency):
        raise RowError(f"currency must be an ISO 4217 code such as NGN, got {currency[:10]!r}")
    status = row.get("status", "").lower() or None
    if status is not None and status not in ProductStatus.__members__:
        raise RowError(f"status must be draft, active or archived, got {status[:20]!r}")
    options = _text(row, "options", MAX_CELL_CHARS)
    handle = _text(row, "handle", 200)
    return Row(
        number=number,
        sku=sku,
        title=title,
        product_key=handle or title,
        price=price,
        description=_text(row, "description", 20_000),
        currency=currency,
        stock=_integer(row, "stock", MAX_COUNT),
        status=status,
        category=_text(row, "category", 200),
        options=None if options is None else _pairs(options, "options", MAX_OPTIONS),
        image_urls=_image_urls(row),
        compare_at_price=_integer(row, "compare_at_price", MAX_AMOUNT),
        low_stock_threshold=_integer(row, "low_stock_threshold", MAX_COUNT),
        weight_grams=_integer(row, "weight_grams", MAX_COUNT),
        attributes=_attributes(row),
    )


def category_key(ref: str) -> tuple[uuid.UUID | None, str]:
    """A category cell: an id, or a slug (lower-cased)."""
    try:
        category_id = uuid.UUID(ref)
    except ValueError:
        return None, ref.lower()
    return category_id, str(category_id)
