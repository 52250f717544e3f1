"""Text extraction from bytes: kinds sniffed, text cleaned, each failure its own error."""

from __future__ import annotations

import pytest

from oja.core.extract import (
    CorruptDocument,
    EncryptedDocument,
    NoExtractableText,
    UnsupportedDocument,
    clean_text,
    extract,
    sniff_kind,
)
from tests.documents.fixtures import CORRUPT_PDF, build_docx, build_pdf, text_pdf


def test_multi_page_pdf() -> None:
    data = build_pdf([["First page, line one.", "Line two."], ["Second page."], ["Third page."]])
    result = extract(data)
    assert result.as_dict() == {
        "text": "First page, line one.\nLine two.\n\nSecond page.\n\nThird page.",
        "pages": 3,
        "kind": "pdf",
    }


def test_pdf_hyphenation_and_latin_text() -> None:
    data = build_pdf([["The docu-", "ment is a café menu.", "Costs: 1999-", "2024 figures."]])
    assert extract(data).text == "The document is a café menu.\nCosts: 1999-\n2024 figures."


def test_docx_paragraphs_and_table_in_order() -> None:
    data = build_docx(["Heading", "Body text."], [["Item", "Qty"], ["Widget", "10"]])
    result = extract(data)
    assert result.kind == "docx"
    assert result.text == "Heading\nBody text.\n\nItem | Qty\nWidget | 10\n\nEnd of document."


@pytest.mark.parametrize(
    ("text", "encoding", "detected"),
    [
        ("Ọjà — naïve café ✓", "utf-8", "utf-8"),
        ("Le garçon était très content de voir sa sœur à la gare.", "cp1252", "cp1252"),
        ("Straße und Größe: übermäßig schön, äußerst günstig.", "latin-1", "cp1252"),
        ("Привет, как дела? Всё хорошо, спасибо большое за помощь.", "cp1251", "cp1251"),
    ],
)
def test_text_in_several_encodings(text: str, encoding: str, detected: str) -> None:
    result = extract(text.encode(encoding))
    assert (result.text, result.kind, result.encoding, result.pages) == (
        text,
        "txt",
        detected,
        None,
    )


def test_utf8_bom_is_dropped() -> None:
    assert extract("\ufeffHello there".encode()).text == "Hello there"


def test_scanned_pdf_has_no_extractable_text() -> None:
    with pytest.raises(NoExtractableText) as caught:
        extract(build_pdf(scanned_pages=3))
    assert caught.value.code == "no_extractable_text"
    assert str(caught.value).startswith("No extractable text: the PDF's 3 page(s)")


def test_encrypted_and_corrupt_pdfs() -> None:
    with pytest.raises(EncryptedDocument):
        extract(build_pdf([["secret"]], encrypted=True))
    with pytest.raises(CorruptDocument):
        extract(CORRUPT_PDF)


def test_blank_text_and_unsupported_bytes() -> None:
    with pytest.raises(NoExtractableText):
        extract(b"   \n\t\n  ", "txt")
    with pytest.raises(UnsupportedDocument):
        extract(b"\x00\x01\x02\x03binary")
    with pytest.raises(CorruptDocument):
        extract(b"PK\x03\x04 not really a docx", "docx")


def test_sniffing_ignores_names_and_knows_the_three_kinds() -> None:
    assert sniff_kind(text_pdf(1)) == "pdf"
    assert sniff_kind(build_docx(["x"])) == "docx"
    assert sniff_kind(b"plain words\n") == "txt"
    assert sniff_kind(b"<html><body>hi</body></html>") is None
    assert sniff_kind(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR") is None


def test_clean_text() -> None:
    raw = "A  line\twith   blanks \r\nhyphen-\nated\x00 word\u00a0here\n\n\n\nEnd"
    assert clean_text(raw) == "A line with blanks\nhyphenated word here\n\nEnd"
