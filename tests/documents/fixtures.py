"""Documents generated in code: PDFs written by hand (text, scanned-like, encrypted), DOCX through
python-docx, plain text in several encodings. Nothing binary is committed."""

from __future__ import annotations

import io
from collections.abc import Sequence

INVOICE_TEXT = """ACME Supplies Ltd
Invoice No: INV-2024-0042
Date: 15 March 2024
From: ACME Supplies Ltd
Bill To: Globex Corporation
Email: billing@acme.example
Phone: +234 803 123 4567
Widgets 10 NGN 12,500.00
Subtotal NGN 15,500.00
Total Due NGN 16,662.50
Payment terms: 30 days from the invoice date. Thank you for your business."""

LETTER_TEXT = """Dear Mrs. Okafor,

I am writing to confirm our meeting on January 5, 2025 about the renewal of the office lease.
The renewal terms are attached and were reviewed by our legal team last week.
We look forward to continuing our relationship with your company.

Yours sincerely,
John Adeyemi"""


def _pdf_string(text: str) -> bytes:
    out = bytearray(b"(")
    for byte in text.encode("cp1252", "replace"):
        if byte in b"()\\":
            out += b"\\" + bytes([byte])
        elif byte < 32 or byte > 126:
            out += f"\\{byte:03o}".encode()
        else:
            out.append(byte)
    return bytes(out + b")")


def _text_stream(lines: Sequence[str]) -> bytes:
    body = bytearray(b"BT /F1 11 Tf 14 TL 56 780 Td\n")
    for line in lines:
        body += _pdf_string(line) + b" Tj T*\n"
    return bytes(body + b"ET\n")


# A grey 8x8 image drawn over the page: what a scan without OCR looks like to a text extractor.
_SCAN_STREAM = (
    b"q 500 0 0 700 50 60 cm\nBI /W 8 /H 8 /CS /G /BPC 8 ID\n" + bytes(range(64, 128)) + b"\nEI Q\n"
)


def build_pdf(
    pages: Sequence[Sequence[str]] | None = None,
    *,
    scanned_pages: int = 0,
    encrypted: bool = False,
) -> bytes:
    """A valid PDF 1.4 with one page per entry of ``pages`` (lines of Helvetica text), or
    ``scanned_pages`` image-only pages; ``encrypted`` adds a Standard security handler whose user
    password is not empty, so no reader opens it without the password."""
    streams = [_text_stream(lines) for lines in pages or []]
    streams += [_SCAN_STREAM] * scanned_pages
    count = len(streams)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(f"{4 + 2 * i} 0 R".encode() for i in range(count))
        + f"] /Count {count} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for index, stream in enumerate(streams):
        content = 5 + 2 * index
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> " + f"/Contents {content} 0 R >>".encode()
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"endstream")
    if encrypted:
        objects.append(
            b"<< /Filter /Standard /V 1 /R 2 /P -44 /O <"
            + b"a1" * 32
            + b"> /U <"
            + b"b2" * 32
            + b"> >>"
        )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    trailer = f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R".encode()
    if encrypted:
        trailer += f" /Encrypt {len(objects)} 0 R /ID [<{'c3' * 16}> <{'c3' * 16}>]".encode()
    out += trailer + f" >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def text_pdf(page_count: int = 3, lines_per_page: int = 40) -> bytes:
    """``page_count`` pages of numbered prose, for extraction tests and the benchmark."""
    pages = []
    for page in range(1, page_count + 1):
        pages.append(
            [
                f"Page {page} line {line}: the quarterly report describes revenue and growth."
                for line in range(1, lines_per_page + 1)
            ]
        )
    return build_pdf(pages)


def build_docx(paragraphs: Sequence[str], table: Sequence[Sequence[str]] = ()) -> bytes:
    import docx

    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, cell in enumerate(row):
                grid.cell(r, c).text = cell
    document.add_paragraph("End of document.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


CORRUPT_PDF = (
    b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nthis is not a pdf body \x00\xff\n"
)
