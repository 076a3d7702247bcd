"""English text normalization before G2P: abbreviations, initialisms, symbols, then numbers.

Why: a phonemizer reads "Dr." as "drive" or "doctor" at random, spells "U.S.A." with three full stops
(three "." tokens mid-sentence), and says "$3.50" as "dollar three point five zero".  Writing these out
as words first gives the model text that sounds like what speakers say.  Reference (lifeiteng/vall-e)
checkpoints were trained on raw text, so `TextTokenizer(normalize=False)` must be used with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from valle.text.numbers import expand_numbers

# Titles always precede a name, so their full stop never ends a sentence and is dropped.
_TITLES = {
    "Mr.": "Mister",
    "Mrs.": "Missus",
    "Ms.": "Miz",
    "Prof.": "Professor",
    "Capt.": "Captain",
    "Col.": "Colonel",
    "Gen.": "General",
    "Gov.": "Governor",
    "Lt.": "Lieutenant",
    "Sgt.": "Sergeant",
    "Rev.": "Reverend",
    "Hon.": "Honorable",
    "Sen.": "Senator",
    "Mt.": "Mount",
    "Ft.": "Fort",
    "vs.": "versus",
    "e.g.": "for example",
    "i.e.": "that is",
    "approx.": "approximately",
}
# Same spelling, two readings: a street type after a capitalised word ("Baker St.", "Mulholland Dr."),
# otherwise a title when a capitalised name follows ("Dr. Who", "St. Louis"), otherwise a street type.
_TITLE_OR_STREET = {"Dr.": ("Doctor", "Drive"), "St.": ("Saint", "Street")}
# Abbreviations that can end a sentence: the full stop is kept when the text ends there or a new
# sentence (capital letter) follows.
_FINAL = {
    "etc.": "et cetera",
    "Jr.": "Junior",
    "Sr.": "Senior",
    "Inc.": "Incorporated",
    "Ltd.": "Limited",
    "Corp.": "Corporation",
    "Dept.": "Department",
    "a.m.": "a m",
    "p.m.": "p m",
    "A.M.": "a m",
    "P.M.": "p m",
}
_MONTHS = {
    "Jan.": "January",
    "Feb.": "February",
    "Mar.": "March",
    "Apr.": "April",
    "Jun.": "June",
    "Jul.": "July",
    "Aug.": "August",
    "Sep.": "September",
    "Sept.": "September",
    "Oct.": "October",
    "Nov.": "November",
    "Dec.": "December",
}


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_START = r"(?<![\w.])"  # not inside a word or another abbreviation
_TITLE_RE = re.compile(rf"{_START}({_alternation(_TITLES)})(?=\s|$)")
_TITLE_OR_STREET_RE = re.compile(rf"{_START}({_alternation(_TITLE_OR_STREET)})(?=(\s+[A-Z]|\s*$)?)")
_NAME_BEFORE_RE = re.compile(r"\b(?!(?:The|A|An|My|Our|Your|His|Her|Their|This|That)\s)[A-Z][a-z]+\s+$")
_FINAL_RE = re.compile(rf"{_START}({_alternation(_FINAL)})(?=(\s+[A-Z]|\s*$)?)")
_MONTH_RE = re.compile(rf"{_START}({_alternation(_MONTHS)})(?=\s+\d)")
_NUMBER_ABBR_RE = re.compile(r"\b(No|no)\.(?=\s*\d)")
# "U.S.A." / "U.K." (two or more capital letters, each followed by a full stop)
_INITIALISM_RE = re.compile(r"(?<![\w.])((?:[A-Z]\.){2,})(?=(\s+[A-Z]|\s*$)?)")


def _title_or_street(m: re.Match[str]) -> str:
    title, street = _TITLE_OR_STREET[m.group(1)]
    after_name = _NAME_BEFORE_RE.search(m.string, 0, m.start()) is not None
    ends_sentence = m.group(2) is not None  # capital letter or end of text follows
    if after_name:
        return street + ("." if ends_sentence else "")
    return title if ends_sentence and m.group(2).strip() else street


def _final(m: re.Match[str]) -> str:
    return _FINAL[m.group(1)] + ("." if m.group(2) is not None else "")


def _initialism(m: re.Match[str]) -> str:
    return " ".join(m.group(1).replace(".", "")) + ("." if m.group(2) is not None else "")


def normalize_english(text: str, american: bool = True) -> str:
    """Write abbreviations, symbols and numbers out as words (see `valle.text.numbers`).

    Args:
        text: raw English text.
        american: American readings ("one hundred five" rather than "one hundred and five").

    Returns:
        The text with the same punctuation and casing, whitespace collapsed to single spaces.
    """
    text = _TITLE_RE.sub(lambda m: _TITLES[m.group(1)], text)
    text = _TITLE_OR_STREET_RE.sub(_title_or_street, text)
    text = _FINAL_RE.sub(_final, text)
    text = _MONTH_RE.sub(lambda m: _MONTHS[m.group(1)], text)
    text = _NUMBER_ABBR_RE.sub("number", text)
    text = _INITIALISM_RE.sub(_initialism, text)
    text = expand_numbers(text, american)
    text = re.sub(r"\s*&\s*", " and ", text)
    return " ".join(text.split())
