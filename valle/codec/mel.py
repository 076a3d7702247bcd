"""Log-mel spectrograms (HiFi-GAN/BigVGAN convention) and the 100-bin `fbank` feature extractor.

The convention (what the HiFi-GAN and BigVGAN vocoders were trained on, so it must match exactly):
reflect-pad (n_fft - hop) / 2 samples on both sides, STFT with a Hann window and no centering,
magnitude sqrt(re^2 + im^2 + 1e-9), Slaney-normalised mel filters on the Slaney mel scale,
natural log after clamping at 1e-5.  Implemented with torch.stft (torchaudio is not usable here).

Dimension legend: T samples, N frequency bins (n_fft / 2 + 1), M mel bins, F frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

from valle.codec.audio import SAMPLE_RATE, check_waveform, prepare_waveform

# Slaney mel scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above (27 mels per factor 6.4).
_MEL_LINEAR_HZ = 200.0 / 3.0
_MEL_BREAK_HZ = 1000.0
_MEL_BREAK = _MEL_BREAK_HZ / _MEL_LINEAR_HZ  # = 15 mels
_MEL_LOG_STEP = math.log(6.4) / 27.0


@dataclass(frozen=True)
class MelConfig:
    """How a waveform becomes a log-mel spectrogram."""

    sample_rate: int = 22_050  # analysis rate (HiFi-GAN universal works at 22.05 kHz)
    n_fft: int = 1024  # FFT size = window length
    hop_length: int = 294  # 22050 / 294 = 75 Hz exactly, the code frame rate
    n_mels: int = 80  # mel bins
    fmin: float = 0.0  # lowest filter edge, Hz
    fmax: float = 8000.0  # highest filter edge, Hz (None-like values are not allowed: be explicit)
    log_floor: float = 1e-5  # magnitudes are clamped here before the log (-11.5 nats = silence)

    @property
    def frame_rate(self) -> float:
        """Frames per second."""
        return self.sample_rate / self.hop_length


FBANK_CONFIG = MelConfig(sample_rate=SAMPLE_RATE, n_fft=1024, hop_length=256, n_mels=100, fmin=0.0, fmax=12_000.0)
"""The reference's `--audio-extractor Fbank` (BigVGAN 24 kHz 100-band): 93.75 frames/s."""


def hz_to_mel(hz: Tensor) -> Tensor:
    """Slaney mel scale (librosa's default, htk=False)."""
    linear = hz / _MEL_LINEAR_HZ
    log = _MEL_BREAK + torch.log(torch.clamp(hz, min=1e-10) / _MEL_BREAK_HZ) / _MEL_LOG_STEP
    return torch.where(hz >= _MEL_BREAK_HZ, log, linear)


def mel_to_hz(mel: Tensor) -> Tensor:
    """Inverse of `hz_to_mel`."""
    linear = mel * _MEL_LINEAR_HZ
    log = _MEL_BREAK_HZ * torch.exp(_MEL_LOG_STEP * (mel - _MEL_BREAK))
    return torch.where(mel >= _MEL_BREAK, log, linear)


@lru_cache(maxsize=8)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> Tensor:
    """Triangular filters evenly spaced on the Slaney mel scale, each scaled to unit area per Hz.

    Returns:
        Tensor[M, N]: row m is filter m over the n_fft / 2 + 1 FFT bin frequencies.
    """
    fft_hz = torch.linspace(0.0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)  # [N]
    lo, hi = hz_to_mel(torch.tensor([fmin, fmax], dtype=torch.float64))
    edges = mel_to_hz(torch.linspace(float(lo), float(hi), n_mels + 2, dtype=torch.float64))  # [M + 2]
    widths = edges[1:] - edges[:-1]  # [M + 1]
    rising = (fft_hz[None, :] - edges[:-2, None]) / widths[:-1, None]  # [M, N]
    falling = (edges[2:, None] - fft_hz[None, :]) / widths[1:, None]  # [M, N]
    weights = torch.clamp(torch.minimum(rising, falling), min=0.0)
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]  # Slaney area normalisation
    return weights.float()


def log_mel(wav: Tensor, cfg: MelConfig, num_frames: int | None = None) -> Tensor:
    """Log-mel spectrogram of a waveform already at `cfg.sample_rate`.

    Args:
        wav: Tensor[T] or [B, T].
        cfg: analysis settings.
        num_frames: if given, the signal is zero-padded or cut to exactly `num_frames * hop` samples
            first, so the result has exactly `num_frames` frames (used to align with code frames).

    Returns:
        Tensor[M, F] (or [B, M, F]); without `num_frames`, F = T // hop.
    """
    squeeze = wav.dim() == 1
    x = wav.unsqueeze(0) if squeeze else wav  # [B, T]
    if num_frames is not None:
        target = num_frames * cfg.hop_length
        x = F.pad(x, (0, target - x.shape[-1])) if x.shape[-1] < target else x[:, :target]
    pad = (cfg.n_fft - cfg.hop_length) // 2
    # Reflect padding needs more samples than the pad; one-frame clips fall back to zeros.
    mode = "reflect" if x.shape[-1] > pad else "constant"
    x = F.pad(x.unsqueeze(1), (pad, pad), mode=mode).squeeze(1)  # [B, T + 2 * pad]
    window = torch.hann_window(cfg.n_fft, device=x.device, dtype=x.dtype)
    spec = torch.stft(x, cfg.n_fft, cfg.hop_length, window=window, center=False, return_complex=True)  # [B, N, F]
    mag = torch.sqrt(spec.real.square() + spec.imag.square() + 1e-9)
    basis = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax).to(x.device)  # [M, N]
    mel = torch.log(torch.clamp(basis @ mag, min=cfg.log_floor))  # [B, M, F]
    return mel.squeeze(0) if squeeze else mel


class FbankExtractor:
    """100-bin log-mel at 24 kHz, hop 256 (93.75 frames/s): the reference's `Fbank` audio features.

    Continuous features for models trained without a codec (the reference's `--audio-extractor Fbank`);
    not an `AudioTokenizer`, since there are no codes to decode.
    """

    config: MelConfig = FBANK_CONFIG

    @property
    def frame_shift(self) -> float:
        """Seconds between frames (256 / 24000)."""
        return self.config.hop_length / self.config.sample_rate

    @property
    def feature_dim(self) -> int:
        """Mel bins per frame (100)."""
        return self.config.n_mels

    @torch.no_grad()
    def extract(self, wav: Tensor, sample_rate: int = SAMPLE_RATE) -> Tensor:
        """Any mono/multichannel waveform -> Tensor[F, 100] (time first, as lhotse stores features).

        F = T // 256 for T samples at 24 kHz.  Raises `InvalidInputError` for empty/silent/NaN/short audio.
        """
        x = check_waveform(prepare_waveform(wav, sample_rate), min_samples=self.config.hop_length)
        return log_mel(x, self.config).transpose(0, 1).contiguous()  # [F, M]
