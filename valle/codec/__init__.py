"""valle.codec: 24 kHz audio <-> discrete codes (75 frames/s, up to 8 codebooks x 1024 entries).

    from valle.codec import load_codec, load_audio
    codec = load_codec("builtin:data/codec.pt")      # or "encodec", or None for the default
    wav, sr = load_audio("prompt.wav")               # mono float32 at 24 kHz, checked
    codes = codec.encode(wav[None])                  # LongTensor[1, 8, ceil(T / 320)]
    audio = codec.decode(codes)                      # Tensor[1, frames * 320] at 24 kHz

Backends: `builtin` (mel + residual k-means + HiFi-GAN, fitted offline with `valle fit-codec`) and
`encodec` (Meta EnCodec 6 kbps, the paper's codec).  `FbankExtractor` gives the reference's 100-bin
continuous features.
"""

from valle.codec.audio import (
    FRAME_RATE,
    HOP_LENGTH,
    SAMPLE_RATE,
    load_audio,
    num_frames,
)
from valle.codec.base import AudioTokenizer
from valle.codec.builtin import BuiltinCodec
from valle.codec.encodec_backend import EncodecCodec, load_encodec, random_encodec
from valle.codec.fit import fit_builtin_codec
from valle.codec.loader import default_builtin_path, load_codec
from valle.codec.mel import FbankExtractor

__all__ = [
    "FRAME_RATE",
    "HOP_LENGTH",
    "SAMPLE_RATE",
    "AudioTokenizer",
    "BuiltinCodec",
    "EncodecCodec",
    "FbankExtractor",
    "default_builtin_path",
    "fit_builtin_codec",
    "load_audio",
    "load_codec",
    "load_encodec",
    "num_frames",
    "random_encodec",
]
