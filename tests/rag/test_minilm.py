"""The NumPy forward pass reproduces sentence-transformers' all-MiniLM-L6-v2 vectors.

The reference vectors were computed once with sentence-transformers 6.2 on PyTorch 2.13 (CPU) from
the same packaged weights, and are stored beside this test.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from oja.rag.minilm import DIMENSION, MAX_TOKENS, load

REFERENCE = json.loads((Path(__file__).parent / "minilm_reference.json").read_text())


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return load().embed(REFERENCE["texts"])


def test_matches_the_reference_implementation(vectors: np.ndarray) -> None:
    expected = np.array(REFERENCE["vectors"], dtype=np.float32)
    assert vectors.shape == (len(REFERENCE["texts"]), DIMENSION)
    cosines = (vectors * expected).sum(axis=1)
    assert cosines.min() > 0.99999, cosines
    assert np.abs(vectors - expected).max() < 1e-4


def test_vectors_are_unit_length_and_batching_changes_nothing(vectors: np.ndarray) -> None:
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    one_by_one = np.vstack([load().embed([text]) for text in REFERENCE["texts"]])
    assert np.abs(one_by_one - vectors).max() < 1e-5


def test_related_sentences_are_closer_than_unrelated_ones() -> None:
    a, b, c = load().embed(
        [
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "The girl is carrying a baby.",
        ]
    )
    assert float(a @ b) > 0.7
    assert float(a @ c) < 0.1


def test_long_text_is_windowed_not_truncated() -> None:
    model = load()
    head = " ".join(f"alpha{i}" for i in range(200))
    tail = "The refund policy allows returns within thirty days of delivery."
    long_text = f"{head} {tail}"
    assert model.token_count(long_text) > MAX_TOKENS
    truncated, windowed = model.embed([long_text])[0], model.embed_long([long_text])[0]
    query = model.embed(["What is the refund policy?"])[0]
    # The tail falls outside the first 256 tokens: only the windowed vector still knows about it.
    assert float(windowed @ query) > float(truncated @ query) + 0.05
    assert abs(float(np.linalg.norm(windowed)) - 1.0) < 1e-5


def test_empty_input() -> None:
    assert load().embed([]).shape == (0, DIMENSION)
