"""The `espeak` backend: espeak-ng through phonemizer's EspeakBackend, exactly as the reference calls it.

One EspeakBackend (espeak-ng loaded in-process, no subprocess) serves every call.  Sentences are passed
to phonemizer one at a time: its multi-line punctuation restore misaligns lines when a sentence is
empty or made of punctuation only (measured: one empty string in a batch shifts every later result),
while the per-sentence path is exactly what the reference ran (`tokenizer([text.strip()])`).  It costs
nothing measurable: espeak itself dominates (2,826 vs 2,839 sentences/s on this machine).
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Sequence
from typing import Any

from valle.errors import InvalidInputError, MissingDependencyError
from valle.text.config import TokenizerConfig
from valle.text.tokens import split_phonemized

logger = logging.getLogger(__name__)

# espeak-ng 1.51's "cmn" voice reads Hanzi as English letter names ("tʃaɪniːz lɛɾɚ"); its pinyin voice
# reads Hanzi correctly, so the Mandarin spellings people try are sent there.
LANGUAGE_ALIASES = {"cmn": "cmn-latn-pinyin", "zh": "cmn-latn-pinyin", "zh-cn": "cmn-latn-pinyin"}

# "(en)" / "(cmn)" markers espeak leaves in the output when it switched voice mid-sentence.
_SWITCH_FLAG_RE = re.compile(r"\([a-z]{2,3}(?:-[a-z0-9-]+)?\)")


def resolve_language(language: str) -> str:
    """Map a language name onto the espeak-ng voice that reads it (see LANGUAGE_ALIASES)."""
    return LANGUAGE_ALIASES.get(language.lower(), language)


def espeak_languages() -> dict[str, str]:
    """The espeak-ng voices phonemizer can use, code -> name (empty if espeak-ng is missing)."""
    backend = _espeak_backend_class()
    return dict(backend.supported_languages()) if backend.is_available() else {}


def _espeak_backend_class() -> Any:
    try:
        from phonemizer.backend import EspeakBackend
    except ImportError as e:  # phonemizer is a declared dependency; this means a broken install
        raise MissingDependencyError(
            f"the espeak text backend needs the phonemizer package ({e}); run `pip install phonemizer`"
        ) from e
    return EspeakBackend


def _phonemizer_logger(words_mismatch: str) -> logging.Logger:
    """The logger handed to phonemizer: quiet, unless the user asked for its word-mismatch warnings.

    phonemizer warns once per `phonemize()` call about language switches; with one call per sentence
    that would be one warning per sentence, so `EspeakPhonemizer` logs one summary per batch instead.
    """
    if words_mismatch == "warn":
        return logging.getLogger(f"{__name__}.phonemizer")
    log = logging.getLogger(f"{__name__}.phonemizer.quiet")
    log.setLevel(logging.ERROR)
    return log


class EspeakPhonemizer:
    """Phonemize with espeak-ng and cut into tokens the way lifeiteng/vall-e does."""

    def __init__(self, cfg: TokenizerConfig) -> None:
        from phonemizer.separator import Separator

        backend_cls = _espeak_backend_class()
        if not backend_cls.is_available():
            raise MissingDependencyError(
                "the espeak text backend needs espeak-ng; install it (`apt-get install espeak-ng`, "
                "`brew install espeak-ng`) or use backend='char'"
            )
        supported = backend_cls.supported_languages()
        if cfg.language not in supported:
            close = difflib.get_close_matches(cfg.language, list(supported), n=4, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}?" if close else "run `espeak-ng --voices` for the list"
            raise InvalidInputError(f"espeak-ng has no language {cfg.language!r}; {hint}")
        self._cfg = cfg
        self._separator = Separator(word=cfg.word_separator, syllable=cfg.syllable_separator, phone=cfg.phone_separator)
        self._backend = backend_cls(
            cfg.language,
            punctuation_marks=cfg.punctuation_marks,
            preserve_punctuation=cfg.preserve_punctuation,
            with_stress=cfg.with_stress,
            tie=cfg.tie,
            language_switch=cfg.language_switch,
            words_mismatch=cfg.words_mismatch,
            logger=_phonemizer_logger(cfg.words_mismatch),
        )

    def phonemize(self, texts: Sequence[str]) -> list[str]:
        """One phonemized string per text (``"t|ə_ɡ|ɛ|t"``); ``""`` where espeak produced nothing."""
        out = []
        for text in texts:
            result = self._backend.phonemize([text], separator=self._separator, strip=True, njobs=1)
            out.append(result[0] if result else "")
        switched = sum(1 for p in out if _SWITCH_FLAG_RE.search(p))
        if switched and self._cfg.language_switch == "keep-flags":
            logger.warning(
                "%d of %d sentences made espeak-ng switch language; its flags such as '(en)' are kept as tokens",
                switched,
                len(out),
            )
        return out

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        """Token lists (reference convention, see `valle.text.tokens`)."""
        sep = self._cfg
        return [split_phonemized(p, sep.word_separator, sep.phone_separator) for p in self.phonemize(texts)]
