"""The `pypinyin` and `pypinyin_initials_finals` backends: Mandarin G2P as the reference recipes do it.

Per sentence (this is lifeiteng/vall-e's rule, kept token for token):
  1. squeeze runs of spaces, then turn each space into the word separator ``_``;
  2. `pypinyin.pinyin(style=TONE3, neutral_tone_with_five=True)` gives one item per Hanzi syllable
     and one item per run of other characters;
  3. a syllable is followed by ``-``.  An item made only of punctuation marks (phonemizer's marks plus
     ``_``) replaces the ``-`` before it, so it sticks to the previous syllable.  Any other item (Chinese
     punctuation such as ``，``, Latin words, digits) is kept like a syllable in `pypinyin` mode;
  4. `pypinyin_initials_finals` writes each syllable as ``initial|final+tone`` and silently drops items
     that do not end in a letter or digit (so ``，`` and ``。`` vanish there, as in the reference);
  5. trailing ``_``/``-`` are stripped and the string is cut into tokens (`valle.text.tokens`).

Where the reference would crash (an assertion on tabs or on two punctuation items in a row) we carry
on: whitespace becomes a plain space first, and a ``-`` is removed only when one is there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from valle.errors import MissingDependencyError
from valle.text.config import TokenizerConfig
from valle.text.tokens import split_phonemized

_SPACES_RE = re.compile(r"\s+")


def _load_pypinyin() -> tuple[Callable[..., list[list[str]]], object, Callable[..., str], Callable[..., str]]:
    try:
        from pypinyin import Style, pinyin
        from pypinyin.style._utils import get_finals, get_initials
    except ImportError as e:
        raise MissingDependencyError(
            f"the pypinyin text backends need pypinyin ({e}); run `pip install pypinyin`"
        ) from e
    return pinyin, Style.TONE3, get_initials, get_finals


class PinyinPhonemizer:
    """Mandarin to tone-3 pinyin (`initials_finals=False`) or to initials and finals (`True`)."""

    def __init__(self, cfg: TokenizerConfig) -> None:
        self._cfg = cfg
        self._initials_finals = cfg.backend == "pypinyin_initials_finals"
        # The reference appends the word separator to the marks so "_" sticks to the syllable before it.
        self._marks = cfg.punctuation_marks + cfg.word_separator
        self._pinyin, self._tone3, self._get_initials, self._get_finals = _load_pypinyin()

    def _syllable(self, item: str) -> list[str]:
        """The strings one pinyin item contributes (before the syllable separator is added)."""
        if not self._initials_finals:
            return [item]
        if not item[-1].isalnum():
            return []  # the reference's no-op `assert ValueError`: the item disappears
        if item[-1].isdigit():
            final = self._get_finals(item[:-1], strict=False) + item[-1]
        else:
            final = self._get_finals(item, strict=False)
        return [self._get_initials(item, strict=False), self._cfg.phone_separator, final]

    def _phonemize_one(self, text: str) -> str:
        cfg = self._cfg
        text = _SPACES_RE.sub(" ", text.strip()).replace(" ", cfg.word_separator)
        parts: list[str] = []
        for (item,) in self._pinyin(text, style=self._tone3, neutral_tone_with_five=True):
            if all(c in self._marks for c in item):
                if parts and parts[-1] == cfg.syllable_separator:
                    parts.pop()
                parts.extend(item)
                continue
            pieces = self._syllable(item)
            if pieces:
                parts.extend([*pieces, cfg.syllable_separator])
        return "".join(parts).rstrip(cfg.word_separator + cfg.syllable_separator)

    def phonemize(self, texts: Sequence[str]) -> list[str]:
        """One pinyin string per text, e.g. ``"ni3-hao3_shi4-jie4"``."""
        return [self._phonemize_one(t) for t in texts]

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        """Token lists (reference convention, see `valle.text.tokens`)."""
        cfg = self._cfg
        return [split_phonemized(p, cfg.word_separator, cfg.phone_separator) for p in self.phonemize(texts)]
