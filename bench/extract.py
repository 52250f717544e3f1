"""PDF text extraction: Oja's ``oja.core.extract.extract`` next to bare pypdfium2, in one run.

Both sides read the same generated PDFs from memory (a few sizes, one page of about 40 lines of
prose each). "raw" opens the document and takes every page's text layer with pypdfium2 and nothing
else; "Oja" is the full ``extract()``: libmagic sniffing, the same PDFium calls under the process
lock, cleaning (line ends, hyphenation, blanks) and the no-text check. Each side runs ``--rounds``
times alternately; the table shows the median pages/s and Oja's share of raw (goal ≥ 85 %).

    python -m bench.extract [--rounds 7] [--pages 10 50 200]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from tests.documents.fixtures import text_pdf

from bench.common import markdown_table
from oja.core.extract import extract


def raw_pypdfium2(data: bytes) -> int:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    pages = len(document)
    for index in range(pages):
        page = document[index]
        textpage = page.get_textpage()
        textpage.get_text_range()
        textpage.close()
        page.close()
    document.close()
    return pages


def oja_extract(data: bytes) -> int:
    result = extract(data)
    assert result.pages is not None
    return result.pages


def pages_per_second(run: Callable[[bytes], int], data: bytes) -> float:
    started = time.perf_counter()
    pages = run(data)
    return pages / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--pages", type=int, nargs="+", default=[10, 50, 200])
    args = parser.parse_args()
    rows = []
    for pages in args.pages:
        data = text_pdf(page_count=pages)
        oja_extract(data)  # warm up: libmagic handle, imports
        raw_pypdfium2(data)
        raw, ours = [], []
        for _ in range(args.rounds):
            raw.append(pages_per_second(raw_pypdfium2, data))
            ours.append(pages_per_second(oja_extract, data))
        raw_median, ours_median = statistics.median(raw), statistics.median(ours)
        rows.append(
            [
                pages,
                f"{len(data) / 1024:.0f} KiB",
                f"{raw_median:,.0f}",
                f"{ours_median:,.0f}",
                f"{100 * ours_median / raw_median:.0f} %",
            ]
        )
    print(
        markdown_table(
            ["pages", "PDF size", "raw pypdfium2 pages/s", "Oja extract pages/s", "Oja / raw"], rows
        )
    )


if __name__ == "__main__":
    main()
