"""Audio in and out of the HTTP API: encode a waveform as wav / flac / raw pcm, stream wav, read uploads.

Every format is 16-bit mono at the model's rate (24 kHz): what the model makes carries no more, and
16-bit is what browsers and OpenAI clients expect.  A streamed wav starts with a header whose sizes are
0xFFFFFFFF ("unknown length", what OpenAI's API and ffmpeg write for pipes) since the total length is
not known when the first sentence goes out.
"""

from __future__ import annotations

import io
import struct
from typing import Literal

import numpy as np

from valle.errors import DataError, InvalidInputError

Format = Literal["wav", "flac", "pcm"]
FORMATS: tuple[Format, ...] = ("wav", "flac", "pcm")
STREAM_FORMATS: tuple[Format, ...] = ("wav", "pcm")  # flac frames need the whole signal's header info
MEDIA_TYPES: dict[str, str] = {"wav": "audio/wav", "flac": "audio/flac", "pcm": "audio/pcm"}
UNKNOWN_SIZE = 0xFFFFFFFF


def pcm16(wav: np.ndarray) -> bytes:
    """Float waveform in [-1, 1] -> little-endian int16 bytes (clipped, not wrapped)."""
    clipped = np.clip(np.asarray(wav, dtype=np.float32), -1.0, 1.0)
    return (clipped * 32767.0).round().astype("<i2").tobytes()


def wav_header(sample_rate: int, data_bytes: int = UNKNOWN_SIZE) -> bytes:
    """The 44-byte RIFF/WAVE header of 16-bit mono PCM; `data_bytes=UNKNOWN_SIZE` for a stream."""
    riff_size = UNKNOWN_SIZE if data_bytes == UNKNOWN_SIZE else 36 + data_bytes
    block_align = 2  # 1 channel x 2 bytes
    return (
        b"RIFF" + struct.pack("<I", riff_size) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * block_align, block_align, 16)
        + b"data" + struct.pack("<I", data_bytes)
    )  # fmt: skip


def encode_audio(wav: np.ndarray, sample_rate: int, fmt: Format) -> bytes:
    """The whole waveform in `fmt` (wav / flac: a complete file; pcm: raw int16 samples)."""
    if fmt == "pcm":
        return pcm16(wav)
    if fmt == "wav":
        data = pcm16(wav)
        return wav_header(sample_rate, len(data)) + data
    if fmt == "flac":
        import soundfile as sf

        buf = io.BytesIO()
        samples = np.frombuffer(pcm16(wav), dtype="<i2")  # the same 16-bit samples as wav and pcm, bit for bit
        sf.write(buf, samples, sample_rate, format="FLAC", subtype="PCM_16")
        return buf.getvalue()
    raise InvalidInputError(f"response_format {fmt!r} is not supported; use one of {', '.join(FORMATS)}")


def read_upload(data: bytes, what: str = "uploaded audio") -> tuple[np.ndarray, int]:
    """Decode an uploaded audio file (wav / flac / ogg, anything libsndfile reads) to (float32 [T or T x C], rate).

    Raises:
        DataError: empty or unreadable bytes, one sentence naming `what`.
    """
    import soundfile as sf

    if not data:
        raise DataError(f"{what} is empty; upload a wav, flac or ogg file")
    try:
        wav, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    except Exception as e:  # noqa: BLE001 - libsndfile raises several types for foreign or truncated data
        # libsndfile says "Error opening <_io.BytesIO object at 0x...>: Format not recognised."; keep the reason.
        reason = (str(e).splitlines() or [type(e).__name__])[0].rsplit(": ", 1)[-1].rstrip(".")
        raise DataError(f"cannot read {what} ({reason}); upload a wav, flac or ogg file") from None
    if wav.size == 0:
        raise DataError(f"{what} holds no samples; upload a recording of the voice")
    return wav, int(rate)
