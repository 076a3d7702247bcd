"""`SynthesisOptions`: every knob of one synthesis call, frozen; per-call changes use `dataclasses.replace`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Literal

from valle.errors import InvalidInputError, require_finite_nonnegative

# The reference recipe drops training utterances longer than this (`--filter-max-duration`, 20 s); a prompt
# beyond it is a sequence length the model never saw.  Checkpoints that record the flag override it.
DEFAULT_MAX_PROMPT_SECONDS = 20.0


@dataclass(frozen=True)
class SynthesisOptions:
    """How to sample and shape the output.  Defaults are lifeiteng/vall-e's `infer.py` defaults."""

    top_k: int = -100  # sample among the k most likely codes; <= 0 disables (reference: -100); 1 = greedy
    top_p: float = 1.0  # nucleus sampling: smallest set of codes reaching this probability; 1.0 disables
    temperature: float = 1.0  # divides the AR logits before sampling (> 0)
    ras: bool = False  # VALL-E 2 repetition-aware sampling: resample from the full distribution when the
    # drawn code already fills >= ras_threshold of the last ras_window codes
    ras_window: int = 10  # K of repetition-aware sampling (VALL-E 2 default)
    ras_threshold: float = 0.1  # t_r of repetition-aware sampling (VALL-E 2 default)
    seed: int | None = None  # seeds every item's sampler (an item gets the same codes alone or batched);
    # None = fresh randomness on every call
    max_new_frames: int | None = None  # AR length cap per item; None = the reference's 16 * text tokens + 1
    min_new_frames: int = 1  # EOS is suppressed until an item has this many frames (0 allows empty output)
    min_length_ratio: float = 0.0  # and until it has this fraction of the length its prompt's speaking rate
    # predicts for its text (0 disables; needs a prompt transcript).  Why: a prompt that is a whole utterance
    # ends in silence, and a small model's likeliest next code is then EOS
    guidance: float = 0.0  # text guidance weight w: the AR samples from l_c + w (l_c - l_u), l_u = its logits
    # without the text (valle.models.guidance); for checkpoints trained with --text-dropout; 0 = off
    nar_temperature: float = 0.0  # 0 = the NAR's argmax codes (the reference); > 0 = the codec decodes the
    # expected code vector under softmax(NAR logits / this) for codebooks 2-8 (valle.models.expected); the
    # NAR never samples
    candidates: int = 1  # AR draws per text; > 1 keeps the draw whose codebook 1 the code reader reads most
    # plainly as the text (valle.models.code_reader); only that one goes through the NAR and the codec
    use_cache: bool = True  # KV-cached AR decoding (False re-runs the sequence per step, as the reference)
    batch_size: int = 8  # items decoded together by `synthesize_batch` (and sentences of a long text)
    max_text_tokens: int | None = 150  # longer texts are split into sentences of at most this many tokens;
    # None = never split
    pause_seconds: float = 0.2  # silence between the sentences of a split text
    max_prompt_seconds: float | None = None  # longer prompts keep their last this-many seconds, with a
    # warning; None = the checkpoint's `filter_max_duration` if recorded, else DEFAULT_MAX_PROMPT_SECONDS
    unknown_symbols: Literal["error", "drop"] = "error"  # text symbols the model lacks: fail, or drop them

    def verify(self) -> None:
        """Raise `InvalidInputError` naming the first option (or combination) that cannot work.

        Types first: options arrive from JSON (`export-model --synthesis`, the HTTP API) and Python callers, where
        `"yes"` for a flag would read as true and `2.5` for a count fails deep inside decoding.
        """
        self._verify_types()
        if not 0.0 < self.top_p <= 1.0:
            raise InvalidInputError(f"top_p must lie in (0, 1], got {self.top_p}")
        if not 0.0 < self.temperature < float("inf"):
            raise InvalidInputError(f"temperature must be a finite number > 0, got {self.temperature}")
        if self.ras_window < 1:
            raise InvalidInputError(f"ras_window must be >= 1 frame, got {self.ras_window}")
        if not 0.0 < self.ras_threshold <= 1.0:
            raise InvalidInputError(f"ras_threshold must lie in (0, 1], got {self.ras_threshold}")
        if self.min_new_frames < 0:
            raise InvalidInputError(f"min_new_frames must be >= 0, got {self.min_new_frames}")
        require_finite_nonnegative("min_length_ratio", self.min_length_ratio)
        require_finite_nonnegative("guidance", self.guidance)
        require_finite_nonnegative("nar_temperature", self.nar_temperature)
        if self.max_new_frames is not None and self.max_new_frames < max(1, self.min_new_frames):
            raise InvalidInputError(
                f"max_new_frames ({self.max_new_frames}) must be >= 1 and >= min_new_frames ({self.min_new_frames})"
            )
        if self.candidates < 1:
            raise InvalidInputError(f"candidates must be >= 1 draw per text, got {self.candidates}")
        if self.batch_size < 1:
            raise InvalidInputError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.max_text_tokens is not None and self.max_text_tokens < 1:
            raise InvalidInputError(f"max_text_tokens must be >= 1 or None, got {self.max_text_tokens}")
        require_finite_nonnegative("pause_seconds", self.pause_seconds)
        if self.max_prompt_seconds is not None and not 0.0 < self.max_prompt_seconds < float("inf"):
            raise InvalidInputError(
                f"max_prompt_seconds must be a finite number > 0 or None, got {self.max_prompt_seconds}"
            )
        if self.unknown_symbols not in ("error", "drop"):
            raise InvalidInputError(f"unknown_symbols must be 'error' or 'drop', got {self.unknown_symbols!r}")

    def _verify_types(self) -> None:
        """Raise `InvalidInputError` for a value of the wrong kind (any integer is a number; numpy's count too)."""
        for f in dataclasses.fields(self):
            kind = _KINDS.get(f.name)
            value = getattr(self, f.name)
            if kind is None or (value is None and f.name in _OPTIONAL):
                continue
            ok = isinstance(value, bool) if kind is bool else isinstance(value, kind) and not isinstance(value, bool)
            if not ok:
                wanted = {bool: "true or false", Integral: "a whole number", Real: "a number"}[kind]
                maybe = " or None" if f.name in _OPTIONAL else ""
                raise InvalidInputError(f"{f.name} must be {wanted}{maybe}, got {value!r}")

    @property
    def greedy(self) -> bool:
        """True when the AR draws no random numbers (top_k == 1 and no repetition-aware resampling)."""
        return self.top_k == 1 and not self.ras

    def with_changes(self, **changes: Any) -> SynthesisOptions:
        """A verified copy with some fields changed; an unknown name is an `InvalidInputError` listing the known ones."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise InvalidInputError(
                f"unknown synthesis option(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}"
            )
        opts = dataclasses.replace(self, **changes) if changes else self
        opts.verify()
        return opts


# The kind each field must hold (`unknown_symbols` is checked by value); `_OPTIONAL` fields may also be None.
_KINDS: dict[str, type] = {
    "top_k": Integral, "top_p": Real, "temperature": Real, "ras": bool, "ras_window": Integral,
    "ras_threshold": Real, "seed": Integral, "max_new_frames": Integral, "min_new_frames": Integral,
    "min_length_ratio": Real, "guidance": Real, "nar_temperature": Real, "candidates": Integral, "use_cache": bool,
    "batch_size": Integral, "max_text_tokens": Integral, "pause_seconds": Real, "max_prompt_seconds": Real,
}
_OPTIONAL = frozenset({"seed", "max_new_frames", "max_text_tokens", "max_prompt_seconds"})
