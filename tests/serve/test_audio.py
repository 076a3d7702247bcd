"""Response encodings (wav / flac / pcm / streamed wav header) and upload decoding."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import soundfile as sf

from valle.errors import DataError
from valle.serve.audio import UNKNOWN_SIZE, encode_audio, pcm16, read_upload, wav_header

from .conftest import prompt_waveform, wav_bytes


def test_wav_and_flac_round_trip_to_16_bit_precision() -> None:
    wav = prompt_waveform(0.5)
    for fmt in ("wav", "flac"):
        data = encode_audio(wav, 24_000, fmt)  # type: ignore[arg-type]
        back, rate = sf.read(io.BytesIO(data), dtype="float32")
        assert rate == 24_000 and back.shape == wav.shape
        assert np.abs(back - wav).max() < 2 / 32767


def test_pcm_is_the_wav_payload() -> None:
    wav = prompt_waveform(0.25)
    raw = encode_audio(wav, 24_000, "pcm")
    assert len(raw) == 2 * wav.size
    assert encode_audio(wav, 24_000, "wav") == wav_header(24_000, len(raw)) + raw


def test_samples_are_clipped_not_wrapped() -> None:
    assert np.frombuffer(pcm16(np.array([2.0, -2.0, 0.5], np.float32)), "<i2").tolist() == [32767, -32767, 16384]


def test_stream_header_declares_unknown_size() -> None:
    h = wav_header(24_000)
    assert len(h) == 44 and h[:4] == b"RIFF" and h[8:16] == b"WAVEfmt "
    riff, = struct.unpack("<I", h[4:8])
    channels, rate = struct.unpack("<HI", h[22:28])
    data_size, = struct.unpack("<I", h[40:44])
    assert (riff, data_size, channels, rate) == (UNKNOWN_SIZE, UNKNOWN_SIZE, 1, 24_000)


def test_read_upload_accepts_other_rates_and_stereo() -> None:
    stereo = np.stack([prompt_waveform(0.5), prompt_waveform(0.5, seed=1)], axis=1)
    wav, rate = read_upload(wav_bytes(stereo, 16_000))
    assert rate == 16_000 and wav.shape == (12_000, 2)  # samples kept as they are; make_voice resamples


@pytest.mark.parametrize("data", [b"", b"RIFF\x00\x00\x00\x00WAVEjunk", b"\x00" * 1000, b"ID3\x03 mp3-ish"])
def test_read_upload_rejects_garbage_in_one_sentence(data: bytes) -> None:
    with pytest.raises(DataError) as info:
        read_upload(data, "uploaded file 'x.wav'")
    message = str(info.value)
    assert "uploaded file 'x.wav'" in message and "0x" not in message and "\n" not in message
