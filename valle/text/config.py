"""What a text tokenizer is: the settings that decide which tokens a sentence becomes.

A checkpoint stores `asdict(TokenizerConfig)` (via `TextTokenizer.settings()`), so the exact front-end a
model was trained with can be rebuilt at inference.  Defaults are lifeiteng/vall-e's, except `normalize`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from valle.errors import InvalidInputError

BACKENDS = ("espeak", "pypinyin", "pypinyin_initials_finals", "char")
LANGUAGE_SWITCHES = ("keep-flags", "remove-flags", "remove-utterance")
WORDS_MISMATCHES = ("ignore", "warn", "remove")

# phonemizer's `Punctuation.default_marks()` (3.x), written out so a stored config does not change
# meaning if a later phonemizer changes its default.  tests/text checks the two still agree.
DEFAULT_PUNCTUATION = ';:,.!?¡¿—…"«»“”(){}[]'

# Language a backend uses when none is given.  "und" (BCP-47 "undetermined") for `char`: it only
# matters for normalization, which is English-only, so unknown text is left alone.
DEFAULT_LANGUAGE = {"espeak": "en-us", "pypinyin": "cmn", "pypinyin_initials_finals": "cmn", "char": "und"}


@dataclass(frozen=True)
class TokenizerConfig:
    """Every setting that changes the token list of a sentence (all JSON-able)."""

    backend: str = "espeak"  # G2P backend: one of BACKENDS
    language: str = "en-us"  # espeak voice ("en-us", "fr-fr", "cmn-latn-pinyin"); always "cmn" for pinyin
    normalize: bool = True  # expand numbers/abbreviations before G2P (English only; no-op otherwise)
    word_separator: str = "_"  # between words; also a token of its own
    syllable_separator: str = "-"  # between pinyin syllables (espeak never emits syllables)
    phone_separator: str = "|"  # between phones inside a word; never a token
    preserve_punctuation: bool = True  # keep punctuation marks as tokens (espeak)
    punctuation_marks: str = DEFAULT_PUNCTUATION  # characters treated as punctuation
    with_stress: bool = False  # keep espeak's stress marks
    tie: bool | str = False  # join multi-letter phones with a tie character (espeak; disables "|")
    language_switch: str = "keep-flags"  # espeak's policy for "(en)"-style language-switch flags
    words_mismatch: str = "ignore"  # espeak's policy when it merges/splits words

    def verify(self) -> None:
        """Raise `InvalidInputError` naming the first setting that cannot work."""
        if self.backend not in BACKENDS:
            raise InvalidInputError(f"unknown text backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        if self.language_switch not in LANGUAGE_SWITCHES:
            raise InvalidInputError(
                f"unknown language_switch {self.language_switch!r}; choose one of {', '.join(LANGUAGE_SWITCHES)}"
            )
        if self.words_mismatch not in WORDS_MISMATCHES:
            raise InvalidInputError(
                f"unknown words_mismatch {self.words_mismatch!r}; choose one of {', '.join(WORDS_MISMATCHES)}"
            )
        for name in ("word_separator", "syllable_separator", "phone_separator"):
            value = getattr(self, name)
            if not isinstance(value, str) or any(c.isspace() for c in value):
                raise InvalidInputError(f"{name} must be a string without whitespace, got {value!r}")
        if not self.word_separator:
            raise InvalidInputError("word_separator must not be empty; the reference uses '_'")
        for name in ("normalize", "preserve_punctuation", "with_stress"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidInputError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if not isinstance(self.punctuation_marks, str):
            raise InvalidInputError(
                f"punctuation_marks must be a string of characters, got {type(self.punctuation_marks).__name__}"
            )

    @classmethod
    def from_dict(cls, settings: Any) -> TokenizerConfig:
        """Rebuild a config from `asdict()` output; missing keys take the defaults, unknown keys fail."""
        if not isinstance(settings, dict):
            raise InvalidInputError(f"tokenizer settings must be a dict, got {type(settings).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise InvalidInputError(
                f"unknown tokenizer setting(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}"
            )
        settings = dict(settings)
        settings.setdefault("language", DEFAULT_LANGUAGE.get(settings.get("backend", cls.backend), cls.language))
        cfg = cls(**settings)
        cfg.verify()
        return cfg
