"""Prompt audio in any form a caller may have it: a file path, a waveform, or `(waveform, sample_rate)`.

Everything becomes a checked mono float32 waveform at 24 kHz; stereo is averaged and other rates are
resampled (soxr), with an INFO line saying so, since a converted prompt is fine but worth knowing about.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from torch import Tensor

from valle.codec.audio import SAMPLE_RATE, load_audio, prepare_waveform
from valle.errors import DataError, InvalidInputError, require_file

logger = logging.getLogger(__name__)

# A path, a waveform at 24 kHz, or (waveform, sample_rate).
AudioSource = str | os.PathLike | Tensor | np.ndarray | tuple


def read_prompt_audio(source: AudioSource, what: str = "prompt audio") -> Tensor:
    """Mono float32 waveform [T] at 24 kHz from `source`.

    Raises:
        MissingFileError: a path that does not exist.  DataError / InvalidInputError: unreadable, empty,
        silent or too-short audio (one sentence naming `what`).
    """
    if isinstance(source, (str, os.PathLike)):
        path = require_file(source, what, "check the path")
        _log_conversion(path)
        wav, _ = load_audio(path)
        return wav
    if isinstance(source, tuple):
        if len(source) != 2 or not isinstance(source[1], int):
            raise InvalidInputError(
                f"{what} must be a path, a waveform, or (waveform, sample_rate); got a {len(source)}-tuple"
            )
        wav, sr = source
        if sr != SAMPLE_RATE:
            logger.info("%s: resampled from %d Hz to %d Hz", what, sr, SAMPLE_RATE)
        return prepare_waveform(wav, sr, what)
    if isinstance(source, (Tensor, np.ndarray)):
        return prepare_waveform(source, SAMPLE_RATE, what)
    raise InvalidInputError(
        f"{what} must be a file path, a waveform, or (waveform, sample_rate); got {type(source).__name__}"
    )


def _log_conversion(path: Path) -> None:
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception as e:  # libsndfile raises several types; load_audio reports it properly
        raise DataError(f"cannot read audio file {path}: {e}; check that it is a valid wav/flac/ogg file") from e
    changes = []
    if info.channels != 1:
        changes.append(f"{info.channels} channels averaged to mono")
    if info.samplerate != SAMPLE_RATE:
        changes.append(f"resampled from {info.samplerate} Hz to {SAMPLE_RATE} Hz")
    if changes:
        logger.info("prompt %s: %s", path, ", ".join(changes))


# Below 2 steps of 16-bit audio: digital silence.  A microphone's noise floor never stays this low, so only
# padding (a TTS engine's, an editor's, a zero-padded clip's) is this quiet.
PADDING_LEVEL = 2.0 / 32768


def trim_trailing_padding(wav: Tensor) -> Tensor:
    """`wav` without the digital silence at its end (`valle.infer.synthesizer.without_trailing_padding` says why).

    Trimmed as audio, the prompt's last frames are encoded from speech alone; trimmed as codes, the frames whose
    window straddles speech and zeros stay, and they still read as "the end" (a one-off comparison, two texts after
    8 of the demo corpus's prompts x 4 seeds: 9 of 64 outputs silent with every prompt's audio trimmed, 24 with
    its codes trimmed, 33 as recorded).
    """
    audible = (wav.abs() >= PADDING_LEVEL).nonzero()
    return wav[: int(audible[-1]) + 1] if len(audible) else wav


def as_list(value: object) -> list:
    """A single source or text as a one-item list; lists and tuples of sources as lists.

    A `(waveform, sample_rate)` tuple is one source, not two.
    """
    if value is None:
        return []
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], int):
        return [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return list(value)
    return [value]
