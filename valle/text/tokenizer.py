"""`TextTokenizer`: text -> token lists, token-compatible with lifeiteng/vall-e.

    tok = TextTokenizer(backend="espeak", language="en-us", normalize=False)   # reference checkpoints
    tok.tokenize(["Hello world."])  # [['h', 'ə', 'l', 'oʊ', '_', 'w', 'ɜː', 'l', 'd', '.']]

`normalize` defaults to True (numbers and abbreviations written out, English only): new models should
hear "three dollars and fifty cents", not espeak's "dollar three point five zero".  Models trained by the
reference saw raw text and need `normalize=False`.  `settings()` / `from_settings()` carry every choice
into and out of a checkpoint.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from valle.errors import InvalidInputError
from valle.text.config import DEFAULT_LANGUAGE, DEFAULT_PUNCTUATION, TokenizerConfig

logger = logging.getLogger(__name__)


class _Backend(Protocol):
    def phonemize(self, texts: Sequence[str]) -> list[str]: ...
    def tokenize(self, texts: Sequence[str]) -> list[list[str]]: ...


def _build_backend(cfg: TokenizerConfig) -> _Backend:
    if cfg.backend == "espeak":
        from valle.text.espeak import EspeakPhonemizer

        return EspeakPhonemizer(cfg)
    if cfg.backend.startswith("pypinyin"):
        from valle.text.pinyin import PinyinPhonemizer

        return PinyinPhonemizer(cfg)
    from valle.text.chars import CharTokenizer

    return CharTokenizer(cfg)


def _resolve_language(cfg: TokenizerConfig) -> TokenizerConfig:
    """Check the language is a string and map espeak aliases ("cmn" -> "cmn-latn-pinyin")."""
    if not isinstance(cfg.language, str) or not cfg.language.strip():
        raise InvalidInputError(f"language must be a non-empty string such as 'en-us', got {cfg.language!r}")
    if cfg.backend.startswith("pypinyin"):
        # The reference ignores `language` here (its default stays "en-us"); so do we, and record "cmn".
        if cfg.language != "cmn":
            logger.debug("backend %r reads Mandarin; language %r is ignored", cfg.backend, cfg.language)
        return dataclasses.replace(cfg, language="cmn")
    if cfg.backend != "espeak":
        return cfg
    from valle.text.espeak import resolve_language

    resolved = resolve_language(cfg.language)
    if resolved == cfg.language:
        return cfg
    logger.info("espeak language %r is read with the %r voice", cfg.language, resolved)
    return dataclasses.replace(cfg, language=resolved)


class TextTokenizer:
    """Turn sentences into token lists (phones, pinyin syllables or characters).

    All arguments are keyword-only: the reference's signature starts with `language`, ours with
    `backend`, and positional calls would silently swap them.

    Args:
        backend: "espeak" (espeak-ng via phonemizer), "pypinyin" (tone-3 syllables),
            "pypinyin_initials_finals" (initial + final per syllable) or "char" (no G2P).
        language: espeak voice ("en-us", "fr-fr", ...; "cmn"/"zh" mean "cmn-latn-pinyin", the
            espeak-ng voice that reads Hanzi); ignored by the pinyin backends (always "cmn", as in the
            reference, which ignores it too); anything for "char".
            None: "en-us" for espeak, "cmn" for pinyin, "und" for char.
        normalize: write numbers and abbreviations out as words before G2P.  English only: for other
            languages it changes nothing.  Must be False for lifeiteng/vall-e checkpoints.
        separator: object with `.word`, `.syllable`, `.phone` strings (e.g. phonemizer's `Separator`);
            None: the reference's "_", "-", "|".
        preserve_punctuation, punctuation_marks, with_stress, tie, language_switch, words_mismatch:
            phonemizer's EspeakBackend options, defaults as in the reference.
    """

    def __init__(
        self,
        *,
        backend: str = "espeak",
        language: str | None = None,
        normalize: bool = True,
        separator: Any = None,
        preserve_punctuation: bool = True,
        punctuation_marks: str = DEFAULT_PUNCTUATION,
        with_stress: bool = False,
        tie: bool | str = False,
        language_switch: str = "keep-flags",
        words_mismatch: str = "ignore",
    ) -> None:
        seps = {}
        if separator is not None:
            try:
                seps = {f"{k}_separator": getattr(separator, k) or "" for k in ("word", "syllable", "phone")}
            except AttributeError:
                raise InvalidInputError(
                    f"separator must have .word, .syllable, .phone strings (phonemizer's Separator), got {separator!r}"
                ) from None
        cfg = TokenizerConfig(
            backend=backend,
            language=DEFAULT_LANGUAGE.get(backend, "und") if language is None else language,
            normalize=normalize,
            preserve_punctuation=preserve_punctuation,
            punctuation_marks=punctuation_marks,
            with_stress=with_stress,
            tie=tie,
            language_switch=language_switch,
            words_mismatch=words_mismatch,
            **seps,
        )
        self._init(cfg)

    def _init(self, cfg: TokenizerConfig) -> None:
        cfg = _resolve_language(cfg)
        cfg.verify()
        self.config = cfg
        self._backend = _build_backend(cfg)
        self._normalizer = None
        if cfg.normalize and cfg.language.lower().startswith("en"):
            from valle.text.english import normalize_english

            american = cfg.language.lower() in ("en", "en-us", "en-us-nyc")
            self._normalizer = lambda text: normalize_english(text, american=american)

    @classmethod
    def from_config(cls, cfg: TokenizerConfig) -> TextTokenizer:
        """Build from a `TokenizerConfig` (checked, espeak language aliases applied)."""
        tok = cls.__new__(cls)
        tok._init(cfg)
        return tok

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> TextTokenizer:
        """Rebuild the tokenizer a checkpoint was made with, from `settings()` output."""
        return cls.from_config(TokenizerConfig.from_dict(settings))

    def settings(self) -> dict[str, Any]:
        """Every setting as a plain JSON-able dict (store it in checkpoints and manifests)."""
        return dataclasses.asdict(self.config)

    @property
    def backend(self) -> str:
        return self.config.backend

    @property
    def language(self) -> str:
        return self.config.language

    def _prepare(self, texts: Sequence[str]) -> list[str]:
        """Validate the batch, normalize, and strip (the reference tokenizes `text.strip()`)."""
        if isinstance(texts, str):
            raise InvalidInputError(f"tokenize() takes a list of texts, got one string; use tokenize([{texts!r}])")
        out = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise InvalidInputError(f"text #{i} is a {type(text).__name__}, not a string: {text!r}")
            if self._normalizer is not None:
                text = self._normalizer(text)
            out.append(text.strip())
        return out

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        """Token lists, one per text; equals the reference's `tokenize_text(tokenizer, text)` per text.

        An empty (or whitespace-only) text gives an empty list.
        """
        return self._backend.tokenize(self._prepare(texts))

    __call__ = tokenize  # the reference's TextTokenizer is called directly

    def phonemize(self, texts: Sequence[str]) -> list[str]:
        """The intermediate strings the tokens are cut from (``"h|ə|l|oʊ_w|ɜː|l|d."``), for inspection."""
        return self._backend.phonemize(self._prepare(texts))

    def normalize_text(self, text: str) -> str:
        """The text G2P will see (normalized when enabled and English, then stripped)."""
        return self._prepare([text])[0]

    def __getstate__(self) -> dict[str, Any]:
        # espeak-ng handles do not pickle; DataLoader workers rebuild the backend from the config.
        return {"config": self.config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._init(state["config"])

    def __repr__(self) -> str:
        c = self.config
        return f"TextTokenizer(backend={c.backend!r}, language={c.language!r}, normalize={c.normalize})"
