"""valle.codec.mel: the Slaney filterbank, log-mel framing and the Fbank extractor."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from valle.codec.mel import (
    FbankExtractor,
    MelConfig,
    hz_to_mel,
    log_mel,
    mel_filterbank,
    mel_to_hz,
)


def test_mel_scale_is_slaney() -> None:
    hz = torch.tensor([0.0, 500.0, 1000.0, 2000.0, 8000.0], dtype=torch.float64)
    mel = hz_to_mel(hz)
    # linear part: 3 mels per 200 Hz; log part: 27 mels per factor 6.4 above 15 mels at 1 kHz
    assert mel[1].item() == pytest.approx(7.5)
    assert mel[2].item() == pytest.approx(15.0)
    assert mel[3].item() == pytest.approx(15 + 27 * math.log(2) / math.log(6.4))
    assert torch.allclose(mel_to_hz(mel), hz)


def test_filterbank_shape_and_unit_area() -> None:
    sr, n_fft = 22_050, 1024
    fb = mel_filterbank(sr, n_fft, 80, 0.0, 8000.0)
    assert fb.shape == (80, 513)
    assert bool((fb >= 0).all())
    bin_hz = sr / n_fft
    areas = fb.double().sum(dim=1) * bin_hz  # Slaney normalisation: each triangle has area 1 (in Hz)
    assert torch.allclose(areas[40:], torch.ones(40, dtype=torch.float64), atol=0.02)  # wide enough to sample
    assert int(fb[:, bin_hz * torch.arange(513) > 8000.0 + bin_hz].count_nonzero()) == 0
    peaks = fb.argmax(dim=1)
    assert bool((peaks[1:] >= peaks[:-1]).all())  # centres increase


def test_log_mel_frames_and_tone_bin() -> None:
    cfg = MelConfig()
    t = torch.arange(22_050) / 22_050
    tone = 0.5 * torch.sin(2 * math.pi * 1000.0 * t)
    mel = log_mel(tone, cfg)
    assert mel.shape == (80, 22_050 // 294)
    exact = log_mel(tone, cfg, num_frames=80)
    assert exact.shape == (80, 80)
    centre = hz_to_mel(torch.tensor(1000.0))
    edges = mel_to_hz(torch.linspace(0.0, float(hz_to_mel(torch.tensor(8000.0))), 82))
    expected_bin = int(torch.argmin((edges[1:-1] - 1000.0).abs()))
    assert abs(int(mel[:, 30].argmax()) - expected_bin) <= 1, float(centre)
    assert float(log_mel(torch.zeros(2940), cfg).max()) == pytest.approx(math.log(1e-5), abs=1e-3)


def test_log_mel_matches_numpy_stft() -> None:
    cfg = MelConfig()
    rng = np.random.default_rng(0)
    x = rng.standard_normal(5000).astype(np.float32) * 0.1
    pad = (cfg.n_fft - cfg.hop_length) // 2
    padded = np.pad(x, pad, mode="reflect")
    window = np.hanning(cfg.n_fft + 1)[:-1]  # periodic Hann, as torch.hann_window
    n = (padded.size - cfg.n_fft) // cfg.hop_length + 1
    frames = np.stack([padded[i * cfg.hop_length : i * cfg.hop_length + cfg.n_fft] * window for i in range(n)])
    mag = np.sqrt(np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-9).T  # [N, F]
    fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax).double().numpy()
    expected = np.log(np.maximum(fb @ mag, cfg.log_floor))
    got = log_mel(torch.from_numpy(x), cfg).double().numpy()
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-3


def test_fbank_extractor() -> None:
    ex = FbankExtractor()
    assert ex.feature_dim == 100 and ex.frame_shift == pytest.approx(256 / 24_000)
    feats = ex.extract(torch.randn(24_000) * 0.1)
    assert feats.shape == (24_000 // 256, 100)
    stereo_16k = torch.randn(2, 16_000) * 0.1
    assert ex.extract(stereo_16k, sample_rate=16_000).shape == (93, 100)
