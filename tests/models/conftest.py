"""Helpers for the model tests: random padded batches and reference-format checkpoints."""

from __future__ import annotations

import pathlib
from pathlib import Path
from typing import Any

import pytest
import torch

from valle.models import VALLE, ModelConfig

REF_CKPT = "lifeiteng_ckpt/epoch-1.pt"
REF_OUTPUTS = "lifeiteng_ckpt/reference_outputs.pt"


def make_batch(
    config: ModelConfig, x_lens: list[int], y_lens: list[int], seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Text `[BOS, ids.., EOS, 0..]` and codes (0 after each length), as the data pipeline collates them."""
    g = torch.Generator().manual_seed(seed)
    b, s, t = len(x_lens), max(x_lens), max(y_lens)
    x = torch.zeros(b, s, dtype=torch.long)
    for i, n in enumerate(x_lens):
        x[i, 0], x[i, n - 1] = 1, 2
        x[i, 1 : n - 1] = torch.randint(3, config.num_text_tokens, (n - 2,), generator=g)
    y = torch.randint(0, config.num_audio_tokens, (b, t, config.num_quantizers), generator=g)
    for i, n in enumerate(y_lens):
        y[i, n:] = 0
    return x, torch.tensor(x_lens, dtype=torch.int32), y, torch.tensor(y_lens, dtype=torch.int32)


def randomize_(model: VALLE, seed: int = 0) -> VALLE:
    """Perturb every parameter and BatchNorm statistic, so that constant inits (LayerNorm 1/0, zero biases,
    alpha = 1, BN mean 0 / var 1) cannot hide a swapped or ignored tensor."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
        for name, buf in model.named_buffers():
            if name.endswith("running_mean"):
                buf.copy_(0.1 * torch.randn(buf.shape, generator=g))
            elif name.endswith("running_var"):
                buf.copy_(1.0 + 0.5 * torch.rand(buf.shape, generator=g))
    return model.eval()


def reference_format_dict(model: VALLE, exp_dir: str = "exp/test") -> dict[str, Any]:
    """What lifeiteng/vall-e's trainer writes: `model` + training state slots + every flag as a top-level key
    (including `pathlib.PosixPath` values, which plain `weights_only=True` loading refuses)."""
    c = model.config
    return {
        "model": model.state_dict(),
        "optimizer": None,
        "scheduler": None,
        "grad_scaler": None,
        "sampler": None,
        "best_train_loss": float("inf"),
        "best_valid_loss": float("inf"),
        "batch_idx_train": 0,
        "env_info": {"k2-version": None, "python-version": "3.10"},
        "exp_dir": pathlib.PosixPath(exp_dir),
        "manifest_dir": pathlib.PosixPath("data/tokenized"),
        "text_tokens": "data/tokenized/unique_text_tokens.k2symbols",
        "model_name": {"valle": "valle", "vallf": "vallf"}[c.architecture],
        "decoder_dim": c.decoder_dim,
        "nhead": c.nhead,
        "num_decoder_layers": c.num_decoder_layers,
        "scale_factor": c.scale_factor,
        "norm_first": c.norm_first,
        "add_prenet": c.add_prenet,
        "prefix_mode": int(c.prefix_mode),
        "share_embedding": c.share_embedding,
        "prepend_bos": c.prepend_bos,
        "num_quantizers": c.num_quantizers,
        "train_stage": 0,
        "cur_epoch": 1,
    }


def write_reference_checkpoint(path: Path, model: VALLE) -> Path:
    torch.save(reference_format_dict(model), path)
    return path


@pytest.fixture(autouse=True)
def _seeded() -> None:
    """Every model test starts from the same global RNG state (model init draws from it)."""
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def reference_outputs(reference_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(reference_dir / REF_OUTPUTS, weights_only=True)


@pytest.fixture(scope="session")
def reference_model(reference_dir: Path) -> VALLE:
    from valle.models import load_checkpoint

    return load_checkpoint(reference_dir / REF_CKPT)
