"""Chunking: exact offsets, sizes within bounds in MiniLM word-pieces, sentence-aligned cuts and
overlap, tables whole with their heading."""

from __future__ import annotations

import random

import pytest

from oja.rag.chunking import chunk_text, content_hash
from oja.rag.eval.synthetic import WORDS
from oja.rag.eval.synthetic import prose as synthetic_prose
from oja.rag.minilm import load

VOCABULARY = WORDS[:26]  # the first 26 words: the seeds below were chosen with them


def count(text: str) -> int:
    return load().token_count(text)


def prose(seed: int, paragraphs: int) -> str:
    return synthetic_prose(
        random.Random(seed), paragraphs, words=(6, 28), sentences=(2, 8), vocabulary=VOCABULARY
    )


def sentences_of(text: str) -> set[str]:
    return {s.strip() for s in text.replace("\n", " ").split(". ") if s.strip()}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_offsets_sizes_and_overlap(seed: int) -> None:
    text = prose(seed, 30)
    chunks = chunk_text(text, count_tokens=count)
    assert len(chunks) >= 3
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.token_count == count(chunk.text)
        assert chunk.token_count <= 600
        assert chunk.content_hash == content_hash(chunk.text)
        assert chunk.text[-1] == "."  # every cut is at a sentence end
        assert chunk.text[0].isupper()  # and every start at a sentence start
    for chunk in chunks[:-1]:
        assert chunk.token_count >= 300
    assert [c.index for c in chunks] == list(range(len(chunks)))
    covered = [False] * len(text)
    for chunk in chunks:
        covered[chunk.start : chunk.end] = [True] * (chunk.end - chunk.start)
    assert all(covered[i] or text[i].isspace() for i in range(len(text)))
    for before, after in zip(chunks, chunks[1:], strict=False):
        overlap = before.end - after.start
        assert overlap > 0, "consecutive chunks share whole sentences"
        shared = count(text[after.start : before.end])
        assert shared <= 0.15 * before.token_count + 1


def test_a_sentence_longer_than_the_maximum_is_cut_between_words() -> None:
    giant = " ".join(["harvest"] * 900) + "."
    text = f"Short opening sentence. {giant} Closing words here."
    chunks = chunk_text(text, count_tokens=count)
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert count(chunk.text) <= 600
        assert not chunk.text.startswith("arvest")  # never inside a word
    assert sum(c.text.count("harvest") for c in chunks) >= 900


def test_tables_stay_whole_with_their_heading() -> None:
    rows = "\n".join(f"Lagos {i} | {i * 120} naira | {i * 7} tonnes" for i in range(1, 25))
    table = f"Prices by town\nTown | Price | Volume\n{rows}"
    text = f"{prose(7, 6)}\n\n{table}\n\n{prose(8, 6)}"
    chunks = chunk_text(text, count_tokens=count)
    holding = [c for c in chunks if "Town | Price | Volume" in c.text]
    assert len(holding) == 1
    assert table in holding[0].text
    assert count(table) > 100
    for chunk in chunks:
        if chunk is not holding[0]:
            assert " | " not in chunk.text  # no table row split off or repeated as overlap


def test_a_table_larger_than_the_maximum_splits_between_rows() -> None:
    rows = [f"Row {i} | {'cell ' * 12}| end" for i in range(80)]
    text = "Big table\n" + "\n".join(rows)
    chunks = chunk_text(text, count_tokens=count)
    assert len(chunks) > 1
    for chunk in chunks:
        assert count(chunk.text) <= 600
        for line in chunk.text.split("\n"):
            assert line == "Big table" or line in rows  # whole rows only
    assert chunks[0].text.startswith("Big table\nRow 0 |")


def test_short_and_blank_text() -> None:
    assert chunk_text("", count_tokens=count) == []
    assert chunk_text("  \n\n ", count_tokens=count) == []
    [only] = chunk_text("  One sentence only.  ", count_tokens=count)
    assert (only.text, only.start, only.end) == ("One sentence only.", 2, 20)
