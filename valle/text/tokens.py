"""Turn a phonemized string into the token list the reference implementation trains on.

lifeiteng/vall-e phonemizes a sentence into one string such as ``"ð|ə_t|uː_p|ɑːɹ|ɾ|i|z,"`` (phones joined
by ``|``, words by ``_``, punctuation glued to its neighbour) and then cuts it into tokens.  Checkpoints
trained with that code index their text embedding by those tokens, so the cutting rule below must not
change: split on the word separator, cut every word into runs of word characters (``\\w+``) and single
non-word, non-space characters, drop the phone separator, and put the word separator back between words.

Consequences worth knowing (all reproduced on purpose):
  * a run of word characters not broken by ``|`` stays one token (``"ni3"``, ``"ɑːɹ"``, ``"əl"``);
  * every punctuation character is its own token (``"，“"`` -> ``"，"``, ``"“"``);
  * two word separators in a row give an empty word, i.e. two ``"_"`` tokens;
  * whitespace is dropped (the reference asserts there is none; we never crash on it).
"""

from __future__ import annotations

import re

# One token: a run of letters/digits/marks (Unicode \w), or any single character that is neither \w
# nor whitespace.  Identical to the pattern the reference uses, so the cut points are identical too.
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def split_phonemized(phonemized: str, word_separator: str = "_", phone_separator: str = "|") -> list[str]:
    """Cut a phonemized string into tokens with the reference's rule (see the module docstring).

    Args:
        phonemized: output of a phonemizer, e.g. ``"t|ə_ɡ|ɛ|t."``.
        word_separator: the string between words; it becomes a token of its own between words.
        phone_separator: the string between phones; it is dropped.

    Returns:
        The tokens, e.g. ``["t", "ə", "_", "ɡ", "ɛ", "t", "."]``; ``[]`` for an empty string.
    """
    tokens: list[str] = []
    for i, word in enumerate(phonemized.split(word_separator)):
        if i:
            tokens.append(word_separator)
        tokens.extend(t for t in _TOKEN_RE.findall(word) if t != phone_separator)
    return tokens
