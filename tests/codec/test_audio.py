"""valle.codec.audio: reading, downmixing, resampling and rejecting bad audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from valle.codec import load_audio, num_frames
from valle.codec.audio import prepare_waveform, to_mono
from valle.errors import DataError, InvalidInputError, MissingFileError


def _tone(seconds: float, sr: int, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_num_frames_is_ceil_of_hop() -> None:
    assert [num_frames(n) for n in (1, 319, 320, 321, 640, 24_000)] == [1, 1, 1, 2, 2, 75]


def test_load_audio_downmixes_and_resamples(tmp_path: Path) -> None:
    left = _tone(0.5, 44_100)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)  # [samples, channels]
    path = tmp_path / "stereo.wav"
    sf.write(path, stereo, 44_100, subtype="FLOAT")
    wav, sr = load_audio(path)
    assert sr == 24_000
    assert wav.dtype == torch.float32 and wav.dim() == 1
    assert abs(wav.numel() - 12_000) <= 1
    # mean of (tone, silence) halves the amplitude; soxr keeps the level
    assert float(wav.abs().max()) == pytest.approx(0.25, abs=0.01)


@pytest.mark.parametrize(
    ("name", "data", "subtype", "needle"),
    [
        ("empty.wav", np.zeros(0, np.float32), "PCM_16", "empty"),
        ("silent.wav", np.zeros(4800, np.float32), "PCM_16", "silence"),
        ("short.wav", _tone(0.005, 24_000), "PCM_16", "too short"),
        ("nan.wav", np.full(4800, np.nan, np.float32), "FLOAT", "NaN"),
    ],
)
def test_load_audio_rejects_unusable_audio(tmp_path: Path, name: str, data: np.ndarray, subtype: str,
                                           needle: str) -> None:
    path = tmp_path / name
    sf.write(path, data, 24_000, subtype=subtype)
    with pytest.raises(DataError, match=needle) as info:
        load_audio(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_load_audio_missing_and_corrupt(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match=r"audio file .*nope\.wav does not exist; check the path"):
        load_audio(tmp_path / "nope.wav")
    with pytest.raises(MissingFileError, match="is a folder, not a file; check the path"):
        load_audio(tmp_path)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF1234WAVEnot really audio")
    with pytest.raises(DataError, match="cannot read audio file"):
        load_audio(bad)


def test_to_mono_accepts_both_channel_layouts() -> None:
    x = torch.randn(2, 1000)
    assert torch.allclose(to_mono(x), x.mean(0))
    assert torch.allclose(to_mono(x.T), x.mean(0))
    with pytest.raises(InvalidInputError, match="channels"):
        to_mono(torch.randn(100, 200))
    with pytest.raises(InvalidInputError, match="1-D"):
        to_mono(torch.randn(1, 2, 3))


def test_prepare_waveform_rejects_integers_and_resamples() -> None:
    with pytest.raises(InvalidInputError, match="float"):
        prepare_waveform(torch.ones(1000, dtype=torch.int16), 24_000)
    out = prepare_waveform(torch.from_numpy(_tone(1.0, 16_000)), 16_000)
    assert out.numel() == 24_000
