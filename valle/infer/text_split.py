"""Split long text into pieces a VALL-E model can read in one go.

Why: the AR model was trained on utterances of at most ~20 s; past that its attention drifts (skipped or
repeated words, babble).  A long text is therefore cut at sentence ends, each piece is synthesized with
the same voice, and the pieces are joined with short pauses (`Synthesizer` does the joining).

Rules, in order: split after sentence-final punctuation (`. ! ? ; …` and the CJK `。！？；`); a sentence
still longer than `max_tokens` is split after clause punctuation (`, : 、，：`), then between words, then
(a single giant "word", e.g. unspaced CJK) every `max_tokens` characters; finally neighbouring pieces are
merged again while the merge fits, so short sentences travel together and nothing is split needlessly.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

SENTENCE_END = re.compile(r"(?<=[.!?;…])[\"'”’)\]]*\s+|(?<=[。！？；])")
CLAUSE_END = re.compile(r"(?<=[,:])\s+|(?<=[，、：])")


def count_characters(text: str) -> int:
    """The default token count: non-space characters (close to a phoneme count for English)."""
    return sum(1 for ch in text if not ch.isspace())


def split_text(text: str, max_tokens: int, count: Callable[[str], int] | None = None) -> list[str]:
    """Cut `text` into pieces of at most `max_tokens` tokens, preferring sentence, then clause, boundaries.

    Args:
        text: any text; whitespace runs are collapsed.
        max_tokens: the most tokens a piece may have (>= 1).
        count: tokens of a piece, e.g. `lambda s: len(tokenizer.tokenize([s])[0])`; default: non-space
            characters.

    Returns:
        The pieces in order (empty list for blank text).  Joined with spaces they give back the text
        (up to whitespace; no space is added next to CJK characters).  A piece exceeds `max_tokens` only if one character already does.

    Example:
        >>> split_text("One two. Three four five. Six.", 18)
        ['One two.', 'Three four five. Six.']
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    n = count or count_characters
    text = " ".join(text.split())
    if not text:
        return []
    pieces: list[str] = []
    for sentence in _split(text, SENTENCE_END):
        pieces.extend(_fit(sentence, max_tokens, n))
    return _merge(pieces, max_tokens, n)


def _split(text: str, pattern: re.Pattern[str]) -> list[str]:
    return [p.strip() for p in pattern.split(text) if p and p.strip()]


def _fit(sentence: str, max_tokens: int, n: Callable[[str], int]) -> list[str]:
    """Break one sentence until every piece fits: clauses, then words, then fixed character runs."""
    if n(sentence) <= max_tokens:
        return [sentence]
    clauses = _split(sentence, CLAUSE_END)
    if len(clauses) > 1:
        return [p for c in clauses for p in _fit(c, max_tokens, n)]
    words = sentence.split(" ")
    if len(words) > 1:
        return [p for w in _merge(words, max_tokens, n) for p in _fit(w, max_tokens, n)]
    step = max(1, len(sentence) * max_tokens // max(1, n(sentence)))  # characters per piece, scaled to tokens
    return [sentence[i : i + step] for i in range(0, len(sentence), step)]


def _merge(pieces: list[str], max_tokens: int, n: Callable[[str], int]) -> list[str]:
    """Greedily join neighbours while the joined piece still fits."""
    out: list[str] = []
    for piece in pieces:
        if out and n(joined := _join(out[-1], piece)) <= max_tokens:
            out[-1] = joined
        else:
            out.append(piece)
    return out


def _join(left: str, right: str) -> str:
    """Join with a space, except next to wide (CJK) characters, which are written without spaces."""
    wide = unicodedata.east_asian_width(left[-1]) in "WF" or unicodedata.east_asian_width(right[0]) in "WF"
    return left + right if wide else f"{left} {right}"
