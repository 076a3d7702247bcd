"""Waveform I/O and checks shared by every codec: read a file, downmix, resample, validate.

Why one module: every stage (tokenizing a corpus, reading a voice prompt, benchmarking) must reject the
same bad audio with the same one-sentence error, and must convert any rate or channel layout the same
way (soundfile to read, soxr to resample, a plain mean to downmix; torchaudio is not usable here).
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import Tensor

from valle.errors import DataError, InvalidInputError, require_file

SAMPLE_RATE = 24_000  # every codec's audio rate (EnCodec 24 kHz, LibriTTS)
HOP_LENGTH = 320  # samples per code frame: 24 kHz / 75 Hz
FRAME_RATE = SAMPLE_RATE // HOP_LENGTH  # 75 code frames per second
MAX_CHANNELS = 16  # more "channels" than this means the array is laid out the other way round
SILENCE_PEAK = 1e-5  # peak below -100 dBFS: nothing a codec can meaningfully encode


def num_frames(num_samples: int) -> int:
    """Code frames for `num_samples` samples at 24 kHz: `ceil(num_samples / 320)`."""
    return -(-num_samples // HOP_LENGTH)


def to_mono(wav: np.ndarray | Tensor, what: str = "audio") -> Tensor:
    """Return a 1-D float32 tensor, averaging channels when `wav` is 2-D.

    A 2-D array may be `[channels, samples]` (torch convention) or `[samples, channels]` (soundfile's):
    the shorter axis is taken as channels, since no real recording has more channels than samples.

    Raises:
        InvalidInputError: more than 2 dimensions, or an implausible number of channels.
    """
    t = torch.as_tensor(wav)
    if t.dim() == 2:
        channel_axis = 0 if t.shape[0] <= t.shape[1] else 1
        if t.shape[channel_axis] > MAX_CHANNELS:
            raise InvalidInputError(
                f"{what} has shape {tuple(t.shape)}, which is neither [channels, samples] nor [samples, channels] "
                f"with at most {MAX_CHANNELS} channels; pass one mono waveform per item"
            )
        t = t.float().mean(dim=channel_axis)
    elif t.dim() != 1:
        raise InvalidInputError(f"{what} must be a 1-D waveform (or 2-D with channels), got shape {tuple(t.shape)}")
    return t.float()


def resample(wav: Tensor, orig_sr: int, target_sr: int = SAMPLE_RATE) -> Tensor:
    """Resample a 1-D waveform with soxr (high quality); a no-op when the rates are equal."""
    if orig_sr <= 0:
        raise InvalidInputError(f"sample rate must be a positive number of Hz, got {orig_sr}")
    if orig_sr == target_sr:
        return wav
    import soxr

    out = soxr.resample(wav.detach().cpu().numpy().astype(np.float32), orig_sr, target_sr, quality="HQ")
    return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32)).to(wav.device)


def check_waveform(wav: Tensor, what: str = "audio", min_samples: int = HOP_LENGTH) -> Tensor:
    """Raise a one-sentence `InvalidInputError` if a mono 24 kHz waveform cannot be encoded; else return it.

    Rejected: empty, NaN/inf samples, all-silent (peak below -100 dBFS), shorter than one code frame.
    """
    if wav.numel() == 0:
        raise InvalidInputError(f"{what} is empty (0 samples); pass at least {min_samples} samples at 24 kHz")
    if not bool(torch.isfinite(wav).all()):
        raise InvalidInputError(f"{what} contains NaN or infinite samples; fix or drop this audio")
    if wav.numel() < min_samples:
        raise InvalidInputError(
            f"{what} is too short ({wav.numel()} samples at 24 kHz); a code frame needs at least {min_samples}"
        )
    if float(wav.abs().max()) < SILENCE_PEAK:
        raise InvalidInputError(f"{what} is all silence (peak below -100 dBFS); drop it or check the recording")
    return wav


def prepare_waveform(wav: np.ndarray | Tensor, sample_rate: int, what: str = "audio") -> Tensor:
    """Any array-like waveform -> checked mono float32 1-D tensor at 24 kHz."""
    raw = torch.as_tensor(wav)
    if not raw.dtype.is_floating_point:
        raise InvalidInputError(f"{what} must hold float samples in [-1, 1], got dtype {raw.dtype}")
    mono = to_mono(raw, what)
    if mono.numel() and not bool(torch.isfinite(mono).all()):
        raise InvalidInputError(f"{what} contains NaN or infinite samples; fix or drop this audio")
    return check_waveform(resample(mono, sample_rate), what)


def load_audio(path: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE) -> tuple[Tensor, int]:
    """Read an audio file as a checked mono float32 waveform at `sample_rate` (default 24 kHz).

    Args:
        path: any format libsndfile reads (wav, flac, ogg, mp3 with libsndfile >= 1.1).
        sample_rate: rate to return; the file is resampled with soxr when it differs.

    Returns:
        (wav[T], sample_rate) with T >= 320 (one code frame at 24 kHz).

    Raises:
        MissingFileError: the file does not exist.
        DataError: the file cannot be decoded, or it is empty, silent, NaN or shorter than one code frame.
    """
    import soundfile as sf

    p = require_file(path, "audio file", "check the path")
    try:
        data, sr = sf.read(str(p), dtype="float32", always_2d=True)  # [samples, channels]
    except Exception as e:  # libsndfile raises several types (LibsndfileError, RuntimeError, TypeError)
        raise DataError(f"cannot read audio file {p}: {e}; check that it is a valid wav/flac/ogg file") from e
    mono = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1), dtype=np.float32))
    try:
        if mono.numel() and not bool(torch.isfinite(mono).all()):
            raise InvalidInputError(f"{p} contains NaN or infinite samples; fix or drop this audio")
        wav = resample(mono, int(sr), sample_rate)
        check_waveform(wav, str(p), min_samples=-(-HOP_LENGTH * sample_rate // SAMPLE_RATE))
    except InvalidInputError as e:
        raise DataError(str(e)) from None
    return wav, sample_rate
