"""The `char` backend: characters as tokens, for languages without a phonemizer.

Text is put in Unicode NFC form (so "é" is one token whether it was typed precomposed or not), words
are split on whitespace, every character is a token and the word separator goes between words.  Case
and punctuation are kept: the model learns them like any other symbol.  A literal word separator in the
text would be indistinguishable from a word break, so it is treated as one.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from valle.text.config import TokenizerConfig


class CharTokenizer:
    """Split text into characters, with the word separator between words."""

    def __init__(self, cfg: TokenizerConfig) -> None:
        self._word = cfg.word_separator
        self._phone = cfg.phone_separator

    def _words(self, text: str) -> list[str]:
        return unicodedata.normalize("NFC", text).replace(self._word, " ").split()

    def phonemize(self, texts: Sequence[str]) -> list[str]:
        """Display form: characters joined by the phone separator, words by the word separator."""
        return [self._word.join(self._phone.join(w) for w in self._words(t)) for t in texts]

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        """One token per character, the word separator between words."""
        out = []
        for text in texts:
            tokens: list[str] = []
            for i, word in enumerate(self._words(text)):
                if i:
                    tokens.append(self._word)
                tokens.extend(word)
            out.append(tokens)
        return out
