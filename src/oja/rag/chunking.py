"""Token-based chunking that respects paragraphs, sentences and tables.

Sizes are counted in the MiniLM tokenizer's word-pieces (the model that embeds the chunks). A chunk
grows sentence by sentence up to ``max_tokens``; once it holds ``min_tokens`` it closes at the next
paragraph break. The next chunk starts with the previous chunk's last whole sentences, about
``overlap`` of its tokens. A sentence is cut (between words) only when it alone exceeds
``max_tokens``. A table — consecutive lines with `` | `` cell separators, as the DOCX extraction
writes them — is one unit together with the one-line heading just above it; a table larger than
``max_tokens`` is split between rows, never inside one.

Every chunk is an exact slice of the document text: ``text[chunk.start:chunk.end] == chunk.text``.
Units are separated at whitespace, which the tokenizer never turns into tokens, so a chunk's token
count is the sum of its units' counts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

TokenCounter = Callable[[str], int]

_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s)")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_WORD = re.compile(r"\S+")
TABLE_SEPARATOR = " | "
HEADING_MAX_CHARS = 120


@dataclass(frozen=True, slots=True)
class Chunk:
    index: int
    text: str
    start: int
    end: int
    token_count: int
    content_hash: str


@dataclass(frozen=True, slots=True)
class _Unit:
    start: int
    end: int
    tokens: int
    paragraph_start: bool
    table: bool


@dataclass(frozen=True, slots=True)
class _Block:
    start: int
    end: int
    table: bool


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line, without its line break."""
    spans = []
    position = 0
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\r\n")
        spans.append((position, position + len(stripped)))
        position += len(line)
    return spans


def _blocks(text: str) -> list[_Block]:
    """Paragraphs (split at blank lines) and tables (runs of lines with cell separators); a
    single-line paragraph right above a table becomes part of it, as its heading."""
    blocks: list[_Block] = []
    paragraph: list[tuple[int, int]] = []

    def close_paragraph() -> None:
        if paragraph:
            blocks.append(_Block(paragraph[0][0], paragraph[-1][1], table=False))
            paragraph.clear()

    table: list[tuple[int, int]] = []

    def close_table() -> None:
        if not table:
            return
        start = table[0][0]
        previous = blocks[-1] if blocks else None
        if (
            previous is not None
            and not previous.table
            and "\n" not in text[previous.start : previous.end]
            and previous.end - previous.start <= HEADING_MAX_CHARS
        ):
            blocks.pop()
            start = previous.start
        blocks.append(_Block(start, table[-1][1], table=True))
        table.clear()

    for start, end in _lines(text):
        line = text[start:end]
        if TABLE_SEPARATOR in line:
            close_paragraph()
            table.append((start, end))
        elif not line.strip():
            close_table()
            close_paragraph()
        else:
            close_table()
            paragraph.append((start, end))
    close_table()
    close_paragraph()
    return [b for b in blocks if text[b.start : b.end].strip()]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    begin = start
    for match in _SENTENCE_END.finditer(text, start, end):
        spans.append((begin, match.end()))
        begin = match.end()
    spans.append((begin, end))
    return [s for s in (_trim(text, a, b) for a, b in spans) if s[0] < s[1]]


def _split_words(
    text: str, start: int, end: int, count: TokenCounter, limit: int
) -> list[tuple[int, int, int]]:
    """(start, end, tokens) pieces of at most ``limit`` tokens, cut between words."""
    pieces: list[tuple[int, int, int]] = []
    piece_start, piece_end, piece_tokens = -1, -1, 0
    for word in _WORD.finditer(text, start, end):
        tokens = count(word.group())
        if piece_start >= 0 and piece_tokens + tokens > limit:
            pieces.append((piece_start, piece_end, piece_tokens))
            piece_start, piece_tokens = -1, 0
        if piece_start < 0:
            piece_start = word.start()
        piece_end = word.end()
        piece_tokens += tokens
        # A single "word" longer than the limit (a URL, base64): cut it by characters.
        while piece_tokens > limit and piece_end - piece_start > 1:
            cut = piece_start + max(1, (piece_end - piece_start) * limit // piece_tokens)
            head = count(text[piece_start:cut])
            pieces.append((piece_start, cut, head))
            piece_start = cut
            piece_tokens = count(text[piece_start:piece_end])
    if piece_start >= 0:
        pieces.append((piece_start, piece_end, piece_tokens))
    return pieces


def _units(text: str, count: TokenCounter, max_tokens: int) -> list[_Unit]:
    units: list[_Unit] = []
    for block in _blocks(text):
        if block.table:
            start, end = _trim(text, block.start, block.end)
            tokens = count(text[start:end])
            if tokens <= max_tokens:
                units.append(_Unit(start, end, tokens, paragraph_start=True, table=True))
                continue
            # Too large to keep whole: split between rows, the heading going with the first rows.
            rows = [(a, b) for a, b in _lines_in(text, start, end)]
            piece_start, piece_end, piece_tokens = rows[0][0], rows[0][0], 0
            first = True
            for row_start, row_end in rows:
                row_tokens = count(text[row_start:row_end])
                if piece_tokens and piece_tokens + row_tokens > max_tokens:
                    units.append(_Unit(piece_start, piece_end, piece_tokens, first, table=True))
                    first = False
                    piece_start, piece_tokens = row_start, 0
                if row_tokens > max_tokens:  # one enormous row: cut between words
                    for a, b, t in _split_words(text, row_start, row_end, count, max_tokens):
                        units.append(_Unit(a, b, t, first, table=True))
                        first = False
                    piece_start, piece_end, piece_tokens = row_end, row_end, 0
                    continue
                piece_end = row_end
                piece_tokens += row_tokens
            if piece_tokens:
                units.append(_Unit(piece_start, piece_end, piece_tokens, first, table=True))
            continue
        first = True
        for start, end in _sentences(text, block.start, block.end):
            tokens = count(text[start:end])
            if tokens <= max_tokens:
                units.append(_Unit(start, end, tokens, first, table=False))
            else:
                for a, b, t in _split_words(text, start, end, count, max_tokens):
                    units.append(_Unit(a, b, t, first, table=False))
                    first = False
            first = False
    return [u for u in units if u.start < u.end]


def _lines_in(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    position = start
    for line in text[start:end].split("\n"):
        a, b = _trim(text, position, position + len(line))
        if a < b:
            spans.append((a, b))
        position += len(line) + 1
    return spans


def chunk_text(
    text: str,
    *,
    count_tokens: TokenCounter,
    min_tokens: int = 300,
    max_tokens: int = 600,
    overlap: float = 0.15,
) -> list[Chunk]:
    """Chunks of ``text`` (see the module docstring); none for blank text."""
    if min_tokens > max_tokens:
        raise ValueError("min_tokens must not exceed max_tokens")
    units = _units(text, count_tokens, max_tokens)
    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        tokens = units[i].tokens
        j = i + 1
        while j < len(units):
            following = units[j]
            if tokens + following.tokens > max_tokens:
                break
            if tokens >= min_tokens and following.paragraph_start:
                break
            tokens += following.tokens
            j += 1
        start, end = units[i].start, units[j - 1].end
        body = text[start:end]
        chunks.append(Chunk(len(chunks), body, start, end, tokens, content_hash(body)))
        if j >= len(units):
            break
        # Overlap: repeat the last whole sentences (never a table) of this chunk in the next one.
        k, repeated = j, 0
        while (
            k - 1 > i
            and not units[k - 1].table
            and repeated + units[k - 1].tokens <= overlap * tokens
            and repeated + units[k - 1].tokens + units[j].tokens <= max_tokens
        ):
            k -= 1
            repeated += units[k].tokens
        i = k
    return chunks
