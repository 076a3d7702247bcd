"""The one contract every audio codec implements: 24 kHz mono audio <-> integer codes at 75 frames/s.

Dimension legend:
    B  batch items
    T  audio samples at 24 kHz
    Q  codebooks used (1 <= Q <= num_codebooks)
    F  code frames, F = ceil(T / 320)

Backends (`valle.codec.builtin.BuiltinCodec`, `valle.codec.encodec_backend.EncodecCodec`) implement
`_encode_items` and `_decode_codes`; this base class does input conversion, validation and the identity
check, so every backend rejects bad input with the same error.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from typing import Any, overload

import numpy as np
import torch
from torch import Tensor

from valle.codec.audio import FRAME_RATE, HOP_LENGTH, SAMPLE_RATE, prepare_waveform
from valle.errors import CheckpointError, InvalidInputError

WaveInput = Tensor | np.ndarray | Sequence[Tensor | np.ndarray]


class AudioTokenizer(abc.ABC):
    """Audio <-> discrete codes; the interface the data, model and inference stages rely on.

    Properties fix the code layout (`sample_rate` 24000, `frame_rate` 75, `num_codebooks`,
    `codebook_size`); `identity` is a JSON-able dict saved in model checkpoints so that a model's codes
    are never decoded by a different codec (`check_compatible`).
    """

    name: str = "abstract"  # backend name, stored in `identity["backend"]`

    @property
    def sample_rate(self) -> int:
        """Audio rate of `encode` input (after conversion) and `decode` output: 24000."""
        return SAMPLE_RATE

    @property
    def frame_rate(self) -> int:
        """Code frames per second: 75 (one frame per 320 samples)."""
        return FRAME_RATE

    @property
    def hop_length(self) -> int:
        """Samples per code frame: 320."""
        return HOP_LENGTH

    @property
    @abc.abstractmethod
    def num_codebooks(self) -> int:
        """Codebooks per frame (8 for the paper's setting)."""

    @property
    @abc.abstractmethod
    def codebook_size(self) -> int:
        """Entries per codebook; codes lie in [0, codebook_size)."""

    @property
    def bitrate(self) -> float:
        """Bits per second at all codebooks: frame_rate * num_codebooks * log2(codebook_size)."""
        return self.frame_rate * self.num_codebooks * math.log2(self.codebook_size)

    @property
    @abc.abstractmethod
    def identity(self) -> dict[str, Any]:
        """JSON-able description that changes whenever the meaning of the codes changes.

        Always holds `backend`, `content_hash` (sha256 hex), `sample_rate`, `frame_rate`,
        `num_codebooks`, `codebook_size`.
        """

    def _identity_fields(self, content_hash: str) -> dict[str, Any]:
        """The fields every backend's `identity` starts with."""
        return {
            "backend": self.name,
            "content_hash": content_hash,
            "sample_rate": self.sample_rate,
            "frame_rate": self.frame_rate,
            "num_codebooks": self.num_codebooks,
            "codebook_size": self.codebook_size,
        }

    @abc.abstractmethod
    def _encode_items(self, wavs: list[Tensor]) -> list[Tensor]:
        """Checked mono 24 kHz waveforms -> one LongTensor[num_codebooks, ceil(T_i / 320)] each."""

    @abc.abstractmethod
    def _decode_codes(self, codes: Tensor) -> Tensor:
        """LongTensor[B, Q, F] (validated) -> float Tensor[B, F * 320] at 24 kHz."""

    @overload
    def encode(self, wav: Tensor | np.ndarray, sample_rate: int = SAMPLE_RATE) -> Tensor: ...

    @overload
    def encode(self, wav: Sequence[Tensor | np.ndarray], sample_rate: int = SAMPLE_RATE) -> list[Tensor]: ...

    # no_grad rather than inference_mode: codes feed embeddings in training, and inference tensors
    # cannot be saved for backward.
    @torch.no_grad()
    def encode(self, wav: WaveInput, sample_rate: int = SAMPLE_RATE) -> Tensor | list[Tensor]:
        """Encode audio to codes; the output has the same "shape of batch" as the input.

        Args:
            wav: either a tensor/array `[B, T]` (or `[T]`, a batch of one; or `[B, C, T]`, downmixed),
                or a list of 1-D waveforms of different lengths (2-D items are downmixed).
            sample_rate: rate of `wav`; anything but 24000 is resampled with soxr.

        Returns:
            For a tensor/array: LongTensor[B, num_codebooks, ceil(T / 320)].
            For a list: a list of LongTensor[num_codebooks, ceil(T_i / 320)], each equal to what encoding
            that item alone gives (backends pad, encode once, then trim each item to its own length).

        Raises:
            InvalidInputError: an item is empty, silent, NaN/inf or shorter than one frame (320 samples).
        """
        if isinstance(wav, (Tensor, np.ndarray)):
            t = torch.as_tensor(wav)
            if t.dim() == 1:
                t = t.unsqueeze(0)  # [1, T]
            if t.dim() not in (2, 3):
                raise InvalidInputError(f"audio batch must be [B, T] or [B, C, T], got shape {tuple(t.shape)}")
            if t.shape[0] == 0:
                raise InvalidInputError("audio batch is empty (B = 0); pass at least one waveform")
            items = [prepare_waveform(t[i], sample_rate, f"audio item {i}") for i in range(t.shape[0])]
            return torch.stack(self._encode_items(items))  # [B, Q, F]
        if isinstance(wav, (str, bytes)) or not isinstance(wav, Sequence):
            raise InvalidInputError(
                f"encode() takes a waveform tensor/array or a list of them, got {type(wav).__name__}; "
                "read files with valle.codec.load_audio first"
            )
        if len(wav) == 0:
            return []
        items = [prepare_waveform(w, sample_rate, f"audio item {i}") for i, w in enumerate(wav)]
        return self._encode_items(items)

    @torch.no_grad()
    def decode(self, codes: Tensor) -> Tensor:
        """Decode codes to 24 kHz audio.

        Args:
            codes: LongTensor[B, Q, F] with 1 <= Q <= num_codebooks (the first Q codebooks; fewer give
                coarser audio), or [Q, F] for a batch of one.

        Returns:
            float Tensor[B, F * 320] at 24 kHz (trim each item to its own frame count * 320 yourself).
        """
        codes = self._check_codes(codes)
        return self._decode_codes(codes)

    def code_vectors(self) -> Tensor:
        """[Q, K, D] the vector each code adds to the frames the decoder reads (`decode_frames`).

        Why: decoding from vectors lets the NAR hand the decoder the expected vector under its
        distribution instead of one code (`valle.models.expected`).

        Raises:
            InvalidInputError: this codec cannot decode from vectors.
        """
        raise InvalidInputError(
            f"the {self.name} codec cannot decode expected frames; use nar_temperature 0 (argmax codes)"
        )

    @torch.no_grad()
    def decode_frames(self, frames: Tensor) -> Tensor:
        """Decode frames — sums of `code_vectors()` rows, one per codebook — to 24 kHz audio.

        `decode_frames(sum_q code_vectors()[q][codes[q]])` is `decode(codes)`.

        Args:
            frames: float Tensor[B, F, D] (or [F, D] for a batch of one).

        Returns:
            float Tensor[B, F * 320] at 24 kHz.
        """
        frames = torch.as_tensor(frames)
        if frames.dim() == 2:
            frames = frames.unsqueeze(0)  # [1, F, D]
        width = self.code_vectors().shape[2]
        if frames.dim() != 3 or frames.shape[2] != width or not frames.dtype.is_floating_point:
            raise InvalidInputError(
                f"frames must be a float tensor [B, F, {width}], got {frames.dtype} of shape {tuple(frames.shape)}"
            )
        if frames.shape[0] == 0 or frames.shape[1] == 0:
            raise InvalidInputError(f"frames of shape {tuple(frames.shape)} are empty; nothing to decode")
        return self._decode_frames(frames.float())

    def _decode_frames(self, frames: Tensor) -> Tensor:
        """Float Tensor[B, F, D] (validated) -> float Tensor[B, F * 320] at 24 kHz (backends that have vectors)."""
        raise NotImplementedError

    def _check_codes(self, codes: Tensor) -> Tensor:
        codes = torch.as_tensor(codes)
        if codes.dim() == 2:
            codes = codes.unsqueeze(0)  # [1, Q, F]
        if codes.dim() != 3:
            raise InvalidInputError(f"codes must be [B, Q, F], got shape {tuple(codes.shape)}")
        if codes.dtype.is_floating_point or codes.dtype == torch.bool:
            raise InvalidInputError(f"codes must be an integer tensor, got dtype {codes.dtype}")
        b, q, f = codes.shape
        if not 1 <= q <= self.num_codebooks:
            raise InvalidInputError(f"codes have {q} codebooks; this codec decodes 1 to {self.num_codebooks}")
        if b == 0 or f == 0:
            raise InvalidInputError(f"codes of shape {tuple(codes.shape)} are empty; nothing to decode")
        lo, hi = int(codes.min()), int(codes.max())
        if lo < 0 or hi >= self.codebook_size:
            raise InvalidInputError(
                f"codes range over [{lo}, {hi}] but this codec has {self.codebook_size} entries per codebook; "
                "strip EOS/padding ids before decoding"
            )
        return codes.long()

    def check_compatible(self, identity: dict[str, Any] | None) -> None:
        """Raise `CheckpointError` unless `identity` (from a model checkpoint) describes this same codec.

        Why: codes from one codec are noise to another; decoding them with the wrong one gives garbage
        audio without any error, so the mismatch is refused up front.
        """
        mine = self.identity
        if not isinstance(identity, dict) or "backend" not in identity or "content_hash" not in identity:
            raise CheckpointError(
                f"the checkpoint carries no usable codec identity ({identity!r}); it was not saved by valle, "
                "so its codec cannot be verified"
            )
        keys = ("backend", "content_hash", "num_codebooks", "codebook_size")
        differ = [k for k in keys if k in identity and identity[k] != mine[k]]
        if differ:
            raise CheckpointError(
                f"the model was trained with codec {_describe(identity)} but {_describe(mine)} is loaded "
                f"(different {', '.join(differ)}); load the codec the model was trained with"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({_describe(self.identity)})"


def _describe(identity: dict[str, Any]) -> str:
    h = str(identity.get("content_hash", "?"))[:12]
    return (
        f"'{identity.get('backend', '?')}' (hash {h}, {identity.get('num_codebooks', '?')} x "
        f"{identity.get('codebook_size', '?')})"
    )
