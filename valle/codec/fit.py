"""Fit the built-in codec's normalisation and codebooks on a corpus (`valle fit-codec`).

Codebooks must be fitted on speech like the training corpus: they do not transfer across domains, and
need >= 10-20 minutes of audio (with 30 s the later residual stages collapse to one or two entries).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from valle.codec.audio import SAMPLE_RATE, load_audio, prepare_waveform
from valle.codec.builtin import BuiltinCodec, Vocoder
from valle.codec.kmeans import fit_residual_kmeans
from valle.codec.mel import MelConfig
from valle.errors import InvalidInputError
from valle.utils import resolve_device

logger = logging.getLogger(__name__)

AudioItem = str | os.PathLike[str] | np.ndarray | Tensor
MIN_STD = 1e-3  # floor for the per-bin std (a constant bin, e.g. above a band-limit, must not blow up)


def fit_builtin_codec(
    audio: Sequence[AudioItem],
    num_codebooks: int = 8,
    codebook_size: int = 1024,
    *,
    sample_rate: int = SAMPLE_RATE,
    iterations: int = 30,
    max_frames: int | None = 200_000,
    seed: int = 0,
    vocoder: Vocoder = "hifigan",
    mel: MelConfig | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> BuiltinCodec:
    """Fit a `BuiltinCodec` on audio files or waveforms.

    Args:
        audio: file paths (any rate/channels; read with `load_audio`) and/or waveforms at `sample_rate`.
        num_codebooks: Q (8 in the paper's setting).
        codebook_size: K (1024 in the paper's setting; tests use 16-64).
        sample_rate: rate of the array items (files carry their own).
        iterations: Lloyd steps per codebook.
        max_frames: fit on a random subset of at most this many frames (None = all); 200k frames =
            44 minutes of audio, beyond which codebooks barely improve but fitting time grows linearly.
        seed: RNG seed for subsetting and k-means (same data + seed = same codec, same hash).
        vocoder: the decoding default stored in the file.
        mel: analysis settings (hop must give 75 frames/s); None = `MelConfig()` (80 bins, 22.05 kHz, hop 294).
        device: where k-means runs; None = CUDA when available, else CPU.
        progress: show a progress bar (stderr).

    Returns:
        The fitted codec (call `.save(path)` to write it).

    Raises:
        InvalidInputError: no audio, an unusable item, or fewer frames than `codebook_size`.
    """
    if not audio:
        raise InvalidInputError("no audio to fit the codec on; pass audio files or waveforms")
    if num_codebooks < 1 or codebook_size < 2:
        raise InvalidInputError(
            f"need num_codebooks >= 1 and codebook_size >= 2, got {num_codebooks} and {codebook_size}"
        )
    mel = mel or MelConfig()
    dev = resolve_device(device)
    start = time.perf_counter()
    # An identity codec computes raw log-mels; normalisation comes from their statistics.
    raw = BuiltinCodec(mel, torch.zeros(mel.n_mels), torch.ones(mel.n_mels), torch.zeros(1, 1, mel.n_mels))
    frames, seconds = [], 0.0
    items = _progress(audio, progress, "mel features", "file")
    for i, item in enumerate(items):
        wav = _read(item, sample_rate, i)
        seconds += wav.numel() / SAMPLE_RATE
        frames.append(raw.features(wav))  # [F_i, M]
    x = torch.cat(frames).to(dev)  # [N, M]
    n_total = x.shape[0]
    if n_total < codebook_size:
        raise InvalidInputError(
            f"only {n_total} frames ({seconds:.1f} s of audio) for {codebook_size}-entry codebooks; "
            "give more audio (>= 10 minutes for 1024 entries) or a smaller codebook_size"
        )
    if max_frames is not None and n_total > max_frames:
        keep = torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))[:max_frames]
        x = x[keep.to(dev)]
    mean = x.mean(dim=0)
    std = x.std(dim=0).clamp(min=MIN_STD)
    z = (x - mean) / std  # [N, M]
    logger.info("fitting %d x %d codebooks on %d frames (%.1f min of audio) on %s",
                num_codebooks, codebook_size, z.shape[0], seconds / 60, dev)
    bar = _bar(num_codebooks * iterations, progress, "k-means", "step")
    books = fit_residual_kmeans(z, num_codebooks, codebook_size, iterations, seed,
                                on_iteration=bar.update if bar is not None else None)
    if bar is not None:
        bar.close()
    info = {
        "audio_minutes": round(seconds / 60, 3),
        "items": len(audio),
        "frames": int(z.shape[0]),
        "iterations": iterations,
        "seed": seed,
        "fit_seconds": round(time.perf_counter() - start, 1),
    }
    return BuiltinCodec(mel, mean.cpu(), std.cpu(), books.cpu(), vocoder=vocoder, fit_info=info)


def _read(item: AudioItem, sample_rate: int, index: int) -> Tensor:
    if isinstance(item, (str, os.PathLike)):
        return load_audio(Path(item))[0]
    return prepare_waveform(item, sample_rate, f"audio item {index}")


def _progress(items: Sequence[AudioItem], enabled: bool, desc: str, unit: str) -> Sequence[AudioItem]:
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit=unit)  # type: ignore[return-value]


def _bar(total: int, enabled: bool, desc: str, unit: str):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit)
