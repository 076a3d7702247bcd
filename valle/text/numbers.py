"""Spell out numbers in English text: cardinals, decimals, ordinals, years, decades, times, money, percent.

The rules are deliberately conservative: a digit run glued to letters ("mp3", "3D") is left for the
phonemizer, and anything ambiguous gets the reading that is acceptable in every sense ("1500 people"
-> "fifteen hundred people" reads fine as a year or a count).  Words come from num2words; its commas
and hyphens are removed ("twenty four", the way espeak-ng reads digits itself, so no new tokens appear),
and in American English its "and" inside numbers is dropped ("one hundred five").
"""

from __future__ import annotations

import re
from collections.abc import Callable

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# Money: symbol -> (unit, units, subunit, subunits).
CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
    "¥": ("yen", "yen", "sen", "sen"),
}
_MAGNITUDES = "thousand|million|billion|trillion"
_MAX_CARDINAL = 10**15  # beyond this, digits are read one by one (IDs, not quantities)


def _words(spelled: str, american: bool) -> str:
    """num2words output without commas/hyphens (and without "and" in American English)."""
    text = spelled.replace(",", "").replace("-", " ")
    if american:
        text = re.sub(r"\band\b", " ", text)
    return " ".join(text.split())


def _num2words(value: int, to: str = "cardinal") -> str:
    from num2words import num2words

    return str(num2words(value, lang="en", to=to))


def digits(text: str) -> str:
    """Read digits one by one: ``"0123"`` -> ``"zero one two three"``."""
    return " ".join(_ONES[int(d)] for d in text)


def cardinal(value: int, american: bool = True) -> str:
    """``105`` -> ``"one hundred five"`` (American) / ``"one hundred and five"``."""
    if value >= _MAX_CARDINAL:
        return digits(str(value))
    return _words(_num2words(value), american)


def ordinal(value: int, american: bool = True) -> str:
    """``21`` -> ``"twenty first"``."""
    if value >= _MAX_CARDINAL:
        return digits(str(value))
    return _words(_num2words(value, to="ordinal"), american)


def decimal(integer: str, fraction: str, american: bool = True) -> str:
    """``("3", "14")`` -> ``"three point one four"`` (exact: no float rounding)."""
    return f"{cardinal(int(integer), american)} point {digits(fraction)}"


def year(value: int, american: bool = True) -> str:
    """Year reading: 1999 -> "nineteen ninety nine", 2005 -> "two thousand five", 2024 -> "twenty twenty four"."""
    return _words(_num2words(value, to="year"), american)


def _plural(words: str) -> str:
    """Pluralize the last word of a spelled number: ``"nineteen ninety"`` -> ``"nineteen nineties"``."""
    head, _, last = words.rpartition(" ")
    last = last[:-1] + "ies" if last.endswith("y") else last + "s"
    return f"{head} {last}".strip()


def _money(symbol: str, amount: str, magnitude: str | None, american: bool) -> str:
    unit, units, sub, subs = CURRENCIES[symbol]
    integer, _, fraction = amount.partition(".")
    if magnitude:  # "$3.5 million" -> "three point five million dollars"
        number = decimal(integer, fraction, american) if fraction else cardinal(int(integer), american)
        return f"{number} {magnitude} {units}"
    if len(fraction) > 2:  # not a price; read it as a decimal amount
        return f"{decimal(integer, fraction, american)} {units}"
    whole, cents = int(integer), int(fraction.ljust(2, "0")) if fraction else 0
    parts = []
    if whole or not cents:
        parts.append(f"{cardinal(whole, american)} {unit if whole == 1 else units}")
    if cents:
        parts.append(f"{cardinal(cents, american)} {sub if cents == 1 else subs}")
    return " and ".join(parts)


def _time(hours: str, minutes: str, american: bool) -> str:
    h, m = cardinal(int(hours), american), int(minutes)
    if m == 0:
        return f"{h} o'clock"
    return f"{h} oh {_ONES[m]}" if m < 10 else f"{h} {cardinal(m, american)}"


# A number as written: 1234, 1,234,567 or either with a decimal part.
_NUMBER = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"


def _number(written: str, american: bool) -> str:
    """Spell a `_NUMBER` match as a count (never as a year)."""
    integer, _, fraction = written.replace(",", "").partition(".")
    return decimal(integer, fraction, american) if fraction else cardinal(int(integer), american)


# (pattern, replacement) pairs, applied in this order; earlier rules consume what later ones would misread.
_Rule = tuple[re.Pattern[str], Callable[[re.Match[str], bool], str]]
_RULES: list[_Rule] = [
    (re.compile(r"(?<=\d)-(?=\d)"), lambda m, a: " "),  # 555-0123, 1990-1995: separate numbers
    (
        re.compile(rf"([$£€¥])\s?({_NUMBER})(?:\s?({_MAGNITUDES})\b)?"),
        lambda m, a: _money(m.group(1), m.group(2).replace(",", ""), m.group(3), a),
    ),
    (re.compile(rf"\b({_NUMBER})\s?%"), lambda m, a: f"{_number(m.group(1), a)} percent"),
    (re.compile(r"\b(\d+)(?:st|nd|rd|th)\b", re.IGNORECASE), lambda m, a: ordinal(int(m.group(1)), a)),
    (re.compile(r"\b(1[1-9]\d0|20[0-9]0)s\b"), lambda m, a: _plural(year(int(m.group(1)), a))),
    (re.compile(r"(?<!\w)'?([2-9]0)s\b"), lambda m, a: _plural(cardinal(int(m.group(1)), a))),
    (
        re.compile(r"(?<![\d:])\b([01]?\d|2[0-3]):([0-5]\d)\b(?!:\d)"),
        lambda m, a: _time(m.group(1), m.group(2), a),
    ),
    (re.compile(r"\b\d{1,3}(?:,\d{3})+(?:\.\d+)?\b"), lambda m, a: _number(m.group(), a)),  # 1,999 is a count
    (re.compile(r"(?<![\d.,])\b(1[1-9]\d\d|20\d\d)\b(?![.,]\d)"), lambda m, a: year(int(m.group(1)), a)),
    (re.compile(r"#(?=\d)"), lambda m, a: "number "),
    (re.compile(r"(?<![\w-])-(?=\d)"), lambda m, a: "minus "),
    (re.compile(r"\b(\d+)\.(\d+)\b"), lambda m, a: decimal(m.group(1), m.group(2), a)),
    (re.compile(r"\b0\d+\b"), lambda m, a: digits(m.group())),
    (re.compile(r"\b\d+\b"), lambda m, a: cardinal(int(m.group()), a)),
]


def expand_numbers(text: str, american: bool = True) -> str:
    """Spell out every number the rules above recognise; other text is unchanged."""
    for pattern, rule in _RULES:
        text = pattern.sub(lambda m: rule(m, american), text)  # noqa: B023 (used before the loop moves on)
    return text
