"""Offline document understanding for the ``local`` provider: deterministic, explainable, no model.

* :func:`summarize` — extractive: sentences scored by the frequency of their content words
  (normalised by the most frequent word) plus a bonus for appearing early, top ones kept in order.
* :func:`classify` — keyword weights per document type plus layout cues (a salutation line, amount
  columns, citation markers), over the closed list :data:`DOCUMENT_TYPES`; below a floor, ``other``.
* :func:`extract_metadata` — regular expressions for dates, amounts with currency symbols or codes,
  emails, phone numbers, invoice numbers, and sender/recipient from ``From:``/``To:`` lines, a
  salutation or a signature.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import date
from typing import Any

DOCUMENT_TYPES: tuple[str, ...] = (
    "invoice",
    "receipt",
    "cv",
    "report",
    "letter",
    "contract",
    "academic paper",
    "other",
)

_WORD = re.compile(r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'-]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATION = re.compile(
    r"\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|No|Co|Ltd|Inc|vs|etc|e\.g|i\.e|Fig|Vol|pp)\.$", re.IGNORECASE
)
_WRAP_WIDTH = 60
_STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers him his how i if in into is it its itself just me more most my
    no nor not now of off on once only or other our ours out over own same she should so some such
    than that the their theirs them then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours shall
    may must also per via""".split()  # noqa: SIM905 (a word list reads better as prose)
)


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def sentences(text: str) -> list[str]:
    """Sentences of prose, and short layout lines (headings, table rows) as units of their own."""
    blocks: list[str] = []
    current: list[str] = []
    for raw in text.splitlines():
        line = re.sub(r"[ \t]+", " ", raw).strip()
        if not line:
            if current:
                blocks.append(" ".join(current))
                current = []
            continue
        current.append(line)
        # A short line or one that ends a sentence closes its block; a long one wraps into the next.
        if len(line) < _WRAP_WIDTH or line[-1] in ".!?:":
            blocks.append(" ".join(current))
            current = []
    if current:
        blocks.append(" ".join(current))
    found: list[str] = []
    for block in blocks:
        pieces = _SENTENCE_END.split(block)
        merged: list[str] = []
        for piece in pieces:
            if merged and _ABBREVIATION.search(merged[-1]):
                merged[-1] = f"{merged[-1]} {piece}"
            else:
                merged.append(piece)
        found.extend(p.strip() for p in merged if len(p.strip()) >= 3)
    return found


def summarize(text: str, *, max_sentences: int = 3, max_chars: int = 600) -> str:
    """The most representative sentences of ``text``, in their original order."""
    candidates = sentences(text)
    if not candidates:
        return ""
    frequencies = Counter(w for w in words(text) if w not in _STOPWORDS and len(w) > 2)
    top = max(frequencies.values(), default=1)
    count = len(candidates)
    scored: list[tuple[float, int]] = []
    for index, sentence in enumerate(candidates):
        terms = [w for w in words(sentence) if w not in _STOPWORDS and len(w) > 2]
        if not terms:
            continue
        weight = sum(frequencies[w] / top for w in terms) / math.sqrt(len(terms))
        weight *= min(1.0, len(terms) / 4)  # a label or a table cell is rarely the point
        position = 1.0 - index / count  # earlier sentences carry the topic more often
        scored.append((weight + 0.5 * position, index))
    chosen = sorted(i for _, i in sorted(scored, key=lambda s: (-s[0], s[1]))[:max_sentences])
    summary = " ".join(
        candidates[i] if candidates[i][-1] in ".!?" else candidates[i].rstrip(",;:") + "."
        for i in chosen
    )
    if len(summary) > max_chars:
        summary = summary[: max_chars - 1].rsplit(" ", 1)[0] + "…"
    return summary


_KEYWORDS: dict[str, dict[str, float]] = {
    "invoice": {
        "invoice": 3, "bill to": 2, "billed to": 2, "amount due": 2, "due date": 2,
        "subtotal": 1.5, "vat": 1, "tax": 0.5, "payment terms": 1.5, "balance due": 2, "qty": 1,
    },
    "receipt": {
        "receipt": 3, "thank you for your purchase": 2, "cashier": 2, "change": 0.5,
        "amount paid": 2, "paid": 0.5, "transaction": 1, "pos": 1, "store": 0.5,
    },
    "cv": {
        "curriculum vitae": 4, "resume": 3, "work experience": 2, "experience": 1,
        "education": 1.5, "skills": 1.5, "references": 0.5, "employment history": 2,
        "objective": 1, "profile": 0.5, "certifications": 1,
    },
    "report": {
        "report": 2, "executive summary": 2.5, "findings": 1.5, "recommendations": 1.5,
        "conclusion": 1, "methodology": 1, "quarter": 1, "analysis": 0.5, "overview": 0.5,
    },
    "letter": {
        "dear": 2.5, "sincerely": 2.5, "yours faithfully": 2.5, "yours truly": 2.5,
        "kind regards": 1.5, "best regards": 1.5, "regards": 0.5,
    },
    "contract": {
        "agreement": 2, "hereby": 1.5, "whereas": 2, "parties": 1.5, "party": 0.5,
        "terms and conditions": 1.5, "governing law": 2, "in witness whereof": 3,
        "shall": 0.3, "termination": 1, "obligations": 1,
    },
    "academic paper": {
        "abstract": 2.5, "et al": 2, "doi": 2, "keywords": 1, "journal": 1, "arxiv": 2,
        "related work": 2, "university": 0.5, "hypothesis": 1, "references": 1,
    },
}  # fmt: skip
_SALUTATION = re.compile(r"^\s*dear\b[^\n]{0,80}[,:]?\s*$", re.IGNORECASE | re.MULTILINE)
_AMOUNT_LINE = re.compile(r"\d[\d,]*\.\d{2}\s*$", re.MULTILINE)
_CITATION = re.compile(r"\[\d{1,3}(?:[,–-]\s*\d{1,3})*\]")
_YEAR_RANGE = re.compile(r"\b(?:19|20)\d{2}\s*[–-]\s*(?:(?:19|20)\d{2}|present|now)\b", re.I)
_MIN_SCORE = 2.0


def classify(text: str) -> tuple[str, dict[str, float]]:
    """The best document type and every type's score."""
    lowered = " " + re.sub(r"\s+", " ", text.lower()) + " "
    head = lowered[:400]
    scores: dict[str, float] = {}
    for kind, keywords in _KEYWORDS.items():
        score = 0.0
        for keyword, weight in keywords.items():
            hits = len(re.findall(rf"(?<![a-z]){re.escape(keyword)}(?![a-z])", lowered))
            if hits:
                # a word in the opening lines says more than one buried in the body
                bonus = weight if keyword in head else 0.0
                score += weight * min(hits, 3) ** 0.5 + bonus
        scores[kind] = round(score, 2)
    if _SALUTATION.search(text):
        scores["letter"] += 2
    amount_lines = len(_AMOUNT_LINE.findall(text))
    if amount_lines >= 3:
        scores["invoice"] += 1
        scores["receipt"] += 1
    if len(_CITATION.findall(text)) >= 3:
        scores["academic paper"] += 2
    if len(_YEAR_RANGE.findall(text)) >= 2:
        scores["cv"] += 2
    best = max(scores, key=lambda k: (scores[k], -DOCUMENT_TYPES.index(k)))
    if scores[best] < _MIN_SCORE:
        return "other", scores
    return best, scores


_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        "january february march april may june july august september october november december".split()  # noqa: SIM905
    )
}
_MONTHS.update({name[:3]: number for name, number in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_MONTH_NAME = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE_PATTERNS = (
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"), "ymd"),
    (re.compile(r"\b(\d{1,2})[/.](\d{1,2})[/.](\d{4})\b"), "dmy"),
    (re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH_NAME}),?\s+(\d{{4}})\b", re.I), "d_month_y"),
    (re.compile(rf"\b({_MONTH_NAME})\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I), "month_d_y"),
)  # fmt: skip
_CURRENCY_SYMBOLS = {"₦": "NGN", "$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}
_CODES = "NGN|USD|EUR|GBP|KES|GHS|ZAR|CAD|AUD|JPY|INR|CHF"
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?"
_AMOUNT = re.compile(
    rf"(?P<pre>[₦$€£¥₹]|\b(?:{_CODES})\b)\s?(?P<n1>{_NUMBER})"
    rf"|(?P<n2>{_NUMBER})\s?(?P<post>\b(?:{_CODES})\b)"
)
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_PHONE = re.compile(r"(?<![\w./-])\+?\(?\d[\d ().-]{6,18}\d(?![\w./-])")
_DATE_LIKE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[.-]\d{1,2}[.-]\d{4}")
_INVOICE_NO = re.compile(
    r"\binvoice\s*(?:no\.?|number|num\.?|#)\s*[:#.]?\s*([A-Z0-9][A-Z0-9/_-]{1,30})", re.I
)
_FROM = re.compile(r"^\s*(?:from|sender|issued by|seller)\s*:\s*(.*)$", re.I | re.M)
_TO = re.compile(r"^\s*(?:to|bill(?:ed)? to|recipient|customer|sold to)\s*:\s*(.*)$", re.I | re.M)
_DEAR = re.compile(r"^\s*dear\s+([^,\n:]{2,60})[,:]?\s*$", re.I | re.M)
_CLOSING = re.compile(
    r"^\s*(?:yours sincerely|sincerely|yours faithfully|yours truly|kind regards|best regards|regards),?\s*\n+\s*([^\n]{2,60})",
    re.I | re.M,
)
_TOTAL_LINE = re.compile(
    r"^(?!.*sub\s*-?total).*\b(?:grand total|total due|amount due|balance due|total)\b.*$",
    re.I | re.M,
)


def _month(name: str) -> int:
    return _MONTHS[name.lower().rstrip(".")[:3]]


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def find_dates(text: str) -> list[str]:
    """ISO dates in order of appearance, duplicates removed."""
    found: list[tuple[int, str]] = []
    for pattern, shape in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            a, b, c = match.groups()
            if shape == "ymd":
                value = _iso(int(a), int(b), int(c))
            elif shape == "dmy":  # day first, as written outside the US; fall back to month first
                value = _iso(int(c), int(b), int(a)) or _iso(int(c), int(a), int(b))
            elif shape == "d_month_y":
                value = _iso(int(c), _month(b), int(a))
            else:
                value = _iso(int(c), _month(a), int(b))
            if value:
                found.append((match.start(), value))
    seen: dict[str, None] = {}
    for _, value in sorted(found):
        seen.setdefault(value)
    return list(seen)


def find_amounts(text: str) -> list[dict[str, str]]:
    """``{"amount": "1250.00", "currency": "NGN"}`` for each amount written with a currency."""
    amounts = []
    for match in _AMOUNT.finditer(text):
        mark = match.group("pre") or match.group("post")
        number = (match.group("n1") or match.group("n2")).replace(",", "")
        currency = _CURRENCY_SYMBOLS.get(mark, mark.upper())
        amounts.append({"amount": number, "currency": currency, "at": str(match.start())})
    return amounts


def _total(text: str, amounts: list[dict[str, str]]) -> dict[str, str] | None:
    if not amounts:
        return None
    for line in reversed(list(_TOTAL_LINE.finditer(text))):
        inside = [a for a in amounts if line.start() <= int(a["at"]) <= line.end()]
        if inside:
            return inside[-1]
    return max(amounts, key=lambda a: float(a["amount"]))


def _clean_name(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().strip(",.;:")
    return value[:120] or None


def _after_label(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    if match is None:
        return None
    value = match.group(1).strip()
    if value:
        return _clean_name(value)
    rest = text[match.end() :].lstrip("\n").split("\n", 1)[0]  # label alone, name on the next line
    return _clean_name(rest)


def extract_metadata(text: str) -> dict[str, Any]:
    """Every field of the analysis schema's ``metadata``; ``None`` or ``[]`` when not found."""
    dates = find_dates(text)
    amounts = find_amounts(text)
    total = _total(text, amounts)
    invoice = _INVOICE_NO.search(text)
    sender = _after_label(_FROM, text)
    if sender is None:
        closing = _CLOSING.search(text)
        sender = _clean_name(closing.group(1)) if closing else None
    recipient = _after_label(_TO, text)
    if recipient is None:
        dear = _DEAR.search(text)
        recipient = _clean_name(dear.group(1)) if dear else None
    phones: list[str] = []
    for match in _PHONE.finditer(text):
        candidate = match.group(0).strip()
        digits = re.sub(r"\D", "", candidate)
        if (
            8 <= len(digits) <= 15
            and not _DATE_LIKE.fullmatch(candidate)
            and candidate not in phones
        ):
            phones.append(candidate)
    title = next((line.strip() for line in text.splitlines() if line.strip()), None)
    return {
        "title": title[:120] if title else None,
        "date": dates[0] if dates else None,
        "sender": sender,
        "recipient": recipient,
        "total_amount": total["amount"] if total else None,
        "currency": total["currency"] if total else None,
        "invoice_number": invoice.group(1) if invoice else None,
        "emails": list(dict.fromkeys(_EMAIL.findall(text)))[:10],
        "phones": phones[:10],
    }
