"""The numbers: WER/CER after normalisation, speaker similarity, DNSMOS."""

from __future__ import annotations

import re
import warnings
from functools import lru_cache
from types import ModuleType

import numpy as np

from valle.errors import InvalidInputError, MissingDependencyError

_INSTALL_HINT = "install the eval extra: pip install -c constraints.txt '.[eval]'"
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_NON_WORD = re.compile(r"[^\w\s']")


def normalize_text(text: str, language: str = "en") -> str:
    """Lower-case, numbers spelled out, punctuation removed, whitespace folded (both sides of a WER)."""
    if language.startswith("zh"):
        try:
            import zhconv

            text = zhconv.convert(text, "zh-cn")
        except ImportError:
            pass
        return "".join(ch for ch in text if ch.isalnum())
    from num2words import num2words

    text = _NUMBER.sub(lambda m: " " + num2words(float(m.group()) if "." in m.group() else int(m.group())) + " ", text)
    text = text.lower().replace("-", " ")
    text = _NON_WORD.sub(" ", text)
    return " ".join(text.split())


def word_error_rate(reference: str, hypothesis: str, language: str = "en") -> float:
    """WER (CER for Mandarin) of `hypothesis` against `reference`, after `normalize_text` on both."""
    import jiwer

    ref, hyp = normalize_text(reference, language), normalize_text(hypothesis, language)
    if language.startswith("zh"):
        return float(jiwer.cer(ref, hyp)) if ref else float(bool(hyp))
    if not ref:
        return float(bool(hyp))
    return float(jiwer.wer(ref, hyp if hyp else ""))


# Faster than any recording speaks: the demo corpus's 960 recordings run at 1.6-4.7 words a second (mean 3.0,
# silences included), read Mandarin at about 4-5 characters.  Whisper hearing babble as words ran at 13.
MAX_UNITS_PER_SECOND = {"en": 6.0, "zh": 9.0}


def spoken_units(text: str, language: str = "en") -> int:
    """How many units a WER (CER) counts in `text`: normalised words, or characters for Mandarin."""
    norm = normalize_text(text, language)
    return len(norm) if language.startswith("zh") else len(norm.split())


def too_fast(units_per_second: float | None, language: str = "en") -> bool:
    """Whether a transcript runs faster than speech can (`MAX_UNITS_PER_SECOND`).

    Why: WER has no upper bound, and such a transcript is the recognizer inventing words for babble (76 words
    for a 5.8 s clip of a 13-word sentence).  Its WER still counts in full; this only says which items are it.
    """
    return units_per_second is not None and units_per_second > max_units_per_second(language)


def max_units_per_second(language: str = "en") -> float:
    """The `too_fast` bound: words per second, or characters per second for Mandarin."""
    return MAX_UNITS_PER_SECOND["zh" if language.startswith("zh") else "en"]


def _resemblyzer() -> ModuleType:
    """resemblyzer, imported without webrtcvad's pkg_resources deprecation warning.

    webrtcvad (a resemblyzer dependency, unmaintained) imports pkg_resources, which setuptools warns about on every
    run; the warning names nothing a user of `valle eval` can act on.
    """
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
            import resemblyzer
    except ImportError as e:
        raise MissingDependencyError(f"resemblyzer is not installed; {_INSTALL_HINT}") from e
    return resemblyzer


@lru_cache(maxsize=1)
def _voice_encoder() -> object:
    return _resemblyzer().VoiceEncoder("cpu", verbose=False)


def speaker_embedding(wav: np.ndarray, sample_rate: int) -> np.ndarray:
    """Unit-norm resemblyzer d-vector of a mono waveform (resampled to its 16 kHz, silence-trimmed)."""
    audio = _resemblyzer().preprocess_wav(np.asarray(wav, dtype=np.float32), source_sr=sample_rate)
    if len(audio) < 1600:  # all silence after trimming: use the raw signal
        import soxr

        audio = soxr.resample(np.asarray(wav, dtype=np.float32), sample_rate, 16000)
    return _voice_encoder().embed_utterance(audio)


def speaker_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two speaker embeddings (same speaker ~0.9 on real speech, different ~0.5)."""
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))


def dnsmos(wav: np.ndarray, sample_rate: int) -> float:
    """DNSMOS overall quality (1-5) of a mono waveform.

    Refuses an empty one: speechmos pads a short clip to its 9 s window by doubling it, which never ends for
    zero samples.
    """
    import soxr

    if not len(wav):
        raise InvalidInputError("DNSMOS of an empty waveform is undefined; skip outputs with no samples")
    try:
        from speechmos import dnsmos as model
    except ImportError as e:
        raise MissingDependencyError(f"speechmos is not installed; {_INSTALL_HINT}") from e
    audio = np.asarray(wav, dtype=np.float32)
    if sample_rate != 16000:
        audio = soxr.resample(audio, sample_rate, 16000).astype(np.float32)
    peak = float(np.abs(audio).max()) or 1.0
    return float(model.run(np.clip(audio / max(peak, 1.0), -1, 1), 16000)["ovrl_mos"])
