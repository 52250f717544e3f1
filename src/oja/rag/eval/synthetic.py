"""Deterministic filler prose for chunking tests and the retrieval benchmark."""

from __future__ import annotations

import random

WORDS = [
    "market",
    "trader",
    "goods",
    "price",
    "town",
    "river",
    "bank",
    "road",
    "school",
    "teacher",
    "farm",
    "harvest",
    "rain",
    "season",
    "yam",
    "cassava",
    "pepper",
    "tomato",
    "lorry",
    "driver",
    "ferry",
    "bridge",
    "council",
    "levy",
    "permit",
    "stall",
    "fabric",
    "tailor",
]


def prose(
    rng: random.Random,
    paragraphs: int,
    *,
    words: tuple[int, int] = (8, 24),
    sentences: tuple[int, int] = (3, 7),
    vocabulary: list[str] = WORDS,
) -> str:
    """``paragraphs`` paragraphs of random sentences drawn from ``vocabulary``."""
    out = []
    for _ in range(paragraphs):
        picked = [
            " ".join(rng.choice(vocabulary) for _ in range(rng.randint(*words))).capitalize() + "."
            for _ in range(rng.randint(*sentences))
        ]
        out.append(" ".join(picked))
    return "\n\n".join(out)
