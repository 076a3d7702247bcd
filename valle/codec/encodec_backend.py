"""EnCodec 24 kHz at 6 kbps (8 codebooks x 1024, 75 frames/s): the paper's codec.

Model code comes from Meta's `encodec` package (installed `--no-deps`): it is the reference
implementation the official state dict was saved from, so loading is exact and nothing is copied.
Its `encodec.utils` imports torchaudio at import time (for file I/O helpers valle never calls), and
torchaudio cannot load beside torch 2.13, so a stand-in module is placed in `sys.modules` for the
duration of that import only.

Weights are looked for in this order: an explicit path, `$VALLE_ENCODEC_CHECKPOINT`, the torch hub
cache (`$TORCH_HOME/hub/checkpoints/encodec_24khz-d7cc33bc.th`), then the official URL (downloaded into
the hub cache).  Offline without a checkpoint the error names the file, its URL and where to put it.

Dimension legend: B batch, T samples, D latent dim (128), Q codebooks, F frames.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import logging
import os
import sys
import types
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from valle.codec.audio import HOP_LENGTH, num_frames
from valle.codec.base import AudioTokenizer
from valle.errors import CheckpointError, MissingDependencyError, MissingFileError, require_file

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = "encodec_24khz-d7cc33bc.th"
CHECKPOINT_URL = "https://dl.fbaipublicfiles.com/encodec/v0/" + CHECKPOINT_NAME
CHECKPOINT_SHA256_PREFIX = "d7cc33bc"  # the official file's sha256 starts with this (it is in the name)
ENV_VAR = "VALLE_ENCODEC_CHECKPOINT"
BANDWIDTH_KBPS = 6.0  # 8 codebooks x 10 bits x 75 Hz
# The last encoder conv (kernel 7) reflect-pads 6 frames on the left, so frame 0 depends on frames 1-6.
MIN_BATCH_FRAMES = 8


def _import_encodec_model() -> Any:
    """Import `encodec.model.EncodecModel` without importing torchaudio."""
    stand_in = None
    if "torchaudio" not in sys.modules:
        stand_in = types.ModuleType("torchaudio")
        # A real spec: libraries that probe optional packages with importlib.util.find_spec (transformers)
        # raise on a module whose __spec__ is None.
        stand_in.__spec__ = importlib.machinery.ModuleSpec("torchaudio", loader=None)
        sys.modules["torchaudio"] = stand_in
    try:
        from encodec.model import EncodecModel
    except ImportError as e:
        raise MissingDependencyError(
            f"the EnCodec backend needs the `encodec` package ({e}); run `pip install --no-deps encodec==0.1.1 einops`"
        ) from e
    finally:
        if stand_in is not None and sys.modules.get("torchaudio") is stand_in:
            del sys.modules["torchaudio"]
    return EncodecModel


def hub_checkpoint_path() -> Path:
    """Where torch hub keeps (and where `load_encodec` downloads) the official checkpoint."""
    return Path(torch.hub.get_dir()) / "checkpoints" / CHECKPOINT_NAME


def find_checkpoint(path: str | os.PathLike[str] | None = None) -> Path | None:
    """The first configured checkpoint: `path`, then `$VALLE_ENCODEC_CHECKPOINT`, then the hub cache.

    Returns None when none is configured (the caller may download).  An explicitly named file that does
    not exist is an error rather than a silent fall-through.
    """
    if path is not None:
        return require_file(path, "EnCodec checkpoint", f"pass the path of {CHECKPOINT_NAME}")
    env = os.environ.get(ENV_VAR)
    if env:
        return require_file(env, f"${ENV_VAR}'s file", "fix or unset it")
    cached = hub_checkpoint_path()
    return cached if cached.is_file() else None


def download_checkpoint(dst: Path) -> Path:
    """Download the official checkpoint to `dst` (verifying its sha256 prefix)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s to %s", CHECKPOINT_URL, dst)
    torch.hub.download_url_to_file(CHECKPOINT_URL, str(dst), hash_prefix=CHECKPOINT_SHA256_PREFIX, progress=True)
    return dst


def resolve_checkpoint(path: str | os.PathLike[str] | None = None, download: bool = True) -> Path:
    """`find_checkpoint`, else download into the hub cache; a clear `MissingFileError` when both fail."""
    found = find_checkpoint(path)
    if found is not None:
        return found
    dst = hub_checkpoint_path()
    hint = (
        f"EnCodec checkpoint {CHECKPOINT_NAME} is not available offline; download {CHECKPOINT_URL} on a "
        f"connected machine and put it at {dst} (or set ${ENV_VAR} to its path), or use the built-in codec"
    )
    if not download:
        raise MissingFileError(hint)
    try:
        return download_checkpoint(dst)
    except Exception as e:  # URLError, HTTPError, timeouts, hash mismatch: all mean "not available"
        raise MissingFileError(f"{hint} (download failed: {e})") from e


def state_dict_hash(module: nn.Module) -> str:
    """sha256 over parameter/buffer names, shapes and bytes (stable across save formats)."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        t = t.detach().cpu().contiguous().reshape(-1)
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


class EncodecCodec(AudioTokenizer):
    """EnCodec 24 kHz, 6 kbps behind the `AudioTokenizer` contract.

    Build with `load_encodec(...)` (official weights) or `random_encodec(seed)` (tests, benchmarks).
    """

    name = "encodec"

    def __init__(self, model: nn.Module, weights: str, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.model: Any = model.eval().to(self.device)  # encodec.model.EncodecModel (untyped package)
        self.weights = weights  # "official" or "random-seed-N": provenance, shown in `identity`
        self._hash = state_dict_hash(self.model)
        self._vectors: Tensor | None = None  # code_vectors(), computed once

    @property
    def num_codebooks(self) -> int:
        return 8

    @property
    def codebook_size(self) -> int:
        return int(self.model.quantizer.bins)

    @property
    def identity(self) -> dict[str, Any]:
        return {
            **self._identity_fields(self._hash),
            "model": "encodec_24khz",
            "bandwidth_kbps": BANDWIDTH_KBPS,
            "weights": self.weights,
        }

    def _encode_items(self, wavs: list[Tensor]) -> list[Tensor]:
        # Not quite causal at the start: every conv reflect-pads its left edge, so frame 0 sees the next
        # few frames.  An item shorter than that reach would see the batch's zero padding, so it is
        # encoded alone; everything else shares one padded forward pass.
        short = {i for i, w in enumerate(wavs) if num_frames(w.numel()) < MIN_BATCH_FRAMES}
        if len(wavs) == 1 or not short:
            return self._encode_padded(wavs)
        out = {i: self._encode_padded([wavs[i]])[0] for i in short}
        rest = [i for i in range(len(wavs)) if i not in short]
        if rest:
            out.update(zip(rest, self._encode_padded([wavs[i] for i in rest])))
        return [out[i] for i in range(len(wavs))]

    def _encode_padded(self, wavs: list[Tensor]) -> list[Tensor]:
        frames = [num_frames(w.numel()) for w in wavs]
        # Pad every item with zeros to whole frames, then to the longest: the model is causal, so the
        # first F_i frames of item i see only its own samples and its own zero tail, exactly as alone.
        length = max(frames) * HOP_LENGTH
        x = torch.stack([F.pad(w, (0, length - w.numel())) for w in wavs]).to(self.device)  # [B, T]
        emb = self.model.encoder(x.unsqueeze(1))  # [B, D, F]
        codes = self.model.quantizer.encode(emb, self.frame_rate, BANDWIDTH_KBPS)  # [Q, B, F]
        codes = codes.transpose(0, 1).cpu()  # [B, Q, F]
        return [codes[i, :, :f].clone() for i, f in enumerate(frames)]

    def _decode_codes(self, codes: Tensor) -> Tensor:
        emb = self.model.quantizer.decode(codes.to(self.device).transpose(0, 1))  # [B, D, F]
        wav = self.model.decoder(emb)  # [B, 1, F * 320]
        return wav.squeeze(1).cpu()

    def code_vectors(self) -> Tensor:
        """[Q, K, D] each residual layer's decoded codebook: the encoder latent is the sum of one per layer."""
        if self._vectors is None:
            k = torch.arange(self.codebook_size, device=self.device)[None]  # [1, K]
            with torch.no_grad():
                layers = self.model.quantizer.vq.layers[: self.num_codebooks]
                self._vectors = torch.stack([layer.decode(k)[0].T for layer in layers])  # [Q, K, D]
        return self._vectors

    def _decode_frames(self, frames: Tensor) -> Tensor:
        wav = self.model.decoder(frames.to(self.device).transpose(1, 2))  # [B, 1, F * 320]
        return wav.squeeze(1).cpu()

    def to(self, device: str | torch.device) -> EncodecCodec:
        """Move the model to `device`; returns self."""
        self.device = torch.device(device)
        self.model.to(self.device)
        self._vectors = None
        return self


def _build_model() -> Any:
    encodec_model = _import_encodec_model()
    with warnings.catch_warnings():
        # encodec 0.1.1 uses the old torch.nn.utils.weight_norm; its deprecation warning is not actionable here.
        warnings.simplefilter("ignore", FutureWarning)
        return encodec_model.encodec_model_24khz(pretrained=False)


def load_encodec(
    path: str | os.PathLike[str] | None = None, device: str | torch.device = "cpu", download: bool = True
) -> EncodecCodec:
    """EnCodec with the official weights (see the module docstring for the search order).

    Raises:
        MissingFileError: no checkpoint found and the download failed (or `download=False`).
        CheckpointError: the file is not the EnCodec 24 kHz state dict.
    """
    ckpt = resolve_checkpoint(path, download)
    model = _build_model()
    try:
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as e:  # unpickling / key mismatch
        raise CheckpointError(f"{ckpt} is not a usable EnCodec 24 kHz checkpoint: {e}") from e
    return EncodecCodec(model, weights="official", device=device)


def random_encodec(seed: int = 0, device: str | torch.device = "cpu") -> EncodecCodec:
    """EnCodec with random weights and usable codebooks, for tests and speed benchmarks (no download).

    Why the extra step: the quantizer's codebooks start at zero and are filled by k-means on the first
    training-mode forward, so without it every code is 0.  That k-means is slow (about a minute on one
    core), so instead each of the 8 codebooks is set to jittered samples of the encoder's residuals on
    seeded noise, which gives hundreds of distinct codes in a fraction of a second.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _build_model().eval()
    # One thread: the codebooks come from the encoder's output, whose float rounding depends on the thread
    # count, and the codec's content hash must not (a checkpoint records it; a server with other threads
    # would refuse the same seed's codec).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _fill_codebooks(model, gen)
    finally:
        torch.set_num_threads(threads)
    return EncodecCodec(model, weights=f"random-seed-{seed}", device=device)


def _fill_codebooks(model: nn.Module, gen: torch.Generator) -> None:
    """Set every codebook to jittered encoder residuals of seeded noise (see `random_encodec`)."""
    with torch.no_grad():
        emb = model.encoder(0.1 * torch.randn(2, 1, 24_000, generator=gen))  # [2, D, 75]
        residual = emb.transpose(1, 2).reshape(-1, emb.shape[1])  # [N, D]
        spread = residual.std(dim=0)  # [D]
        for layer in model.quantizer.vq.layers[:8]:
            book = layer._codebook
            k = book.embed.shape[0]
            pick = torch.randint(0, residual.shape[0], (k,), generator=gen)
            entries = residual[pick] + 0.5 * spread * torch.randn(k, residual.shape[1], generator=gen)  # [K, D]
            book.embed.copy_(entries)
            book.embed_avg.copy_(entries)
            book.cluster_size.fill_(1.0)
            book.inited.fill_(1.0)
            residual = residual - entries[book.quantize(residual)]
