"""Automatic screening of a review's text on every write: ``published``, ``pending`` (an admin
decides) or ``hidden``.

Rules, in order: a word of the profanity list hides it; links, long runs of one character or word,
and shouting (mostly capitals) hold it as pending. The result carries the reason, stored on the row.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from oja.marketplace.reviews.models import ReviewStatus

PROFANITY = frozenset({"fuck", "fucking", "shit", "bitch", "bastard", "asshole", "cunt", "dick"})
_LINK = re.compile(r"(https?://|www\.|\b[\w-]+\.(com|net|org|ng|io|xyz|biz)\b)", re.IGNORECASE)
_REPEATED_CHAR = re.compile(r"(.)\1{7,}")
_WORD = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class Screening:
    status: ReviewStatus
    reason: str | None = None


def _repeated_words(words: list[str]) -> bool:
    run = 1
    for before, word in itertools.pairwise(words):
        run = run + 1 if word == before else 1
        if run >= 4:
            return True
    return len(words) >= 8 and len(set(words)) * 4 <= len(words)


def screen(title: str, body: str) -> Screening:
    text = f"{title}\n{body}"
    words = [w.lower() for w in _WORD.findall(text)]
    if any(w in PROFANITY for w in words):
        return Screening(ReviewStatus.hidden, "profanity")
    if _LINK.search(text):
        return Screening(ReviewStatus.pending, "link")
    if _REPEATED_CHAR.search(text) or _repeated_words(words):
        return Screening(ReviewStatus.pending, "repeated text")
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.7:
        return Screening(ReviewStatus.pending, "all caps")
    return Screening(ReviewStatus.published)
