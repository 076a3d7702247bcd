"""Training checkpoints: write atomically, find the one to resume from, prune, and capture RNG state.

A training checkpoint is one `torch.save`d dict of plain data (readable with `weights_only=True`):

    format, format_version   "valle-train-checkpoint", 1
    model                    the (unwrapped) model's state dict - the reference's key, so a file such as
                             best-valid-loss.pt also loads where a lifeiteng/vall-e checkpoint is expected
    <model flags>            every ModelConfig field at top level, as the reference stores its flags
    model_config             the same, as one dict
    model_avg                running weight average (float64) or None
    optimizer, scheduler, grad_scaler, sampler
    ranks                    one entry per process: its RNG states (python, numpy, torch cpu + cuda, the
                             NAR-draw generator) and its running loss sums (epoch and log interval)
    state                    TrainState (step, epoch, position in the epoch, best losses, skipped steps, stage)
    train_config             the TrainConfig that wrote it (paths and enums as strings)
    symbols, tokenizer, codec   what an inference checkpoint needs (see `valle.models.save_checkpoint`)
    synthesis                the sampling settings the start checkpoint recommended (None: none); carried into
                             every checkpoint the run writes, so a fine-tune samples as its starting model did

Inference checkpoints (small: weights + symbols + tokenizer + codec) are written separately with
`valle.models.save_checkpoint`.
"""

from __future__ import annotations

import logging
import random
import re
import shutil
from dataclasses import dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from valle.errors import CheckpointError, require_file
from valle.utils import atomic_write

logger = logging.getLogger(__name__)

FORMAT = "valle-train-checkpoint"  # also valle.models.checkpoint.TRAIN_FORMAT
FORMAT_VERSION = 1
LATEST = "latest.txt"  # names the newest training checkpoint of an exp dir (written after each save)
_STEP_RE = re.compile(r"checkpoint-(\d+)\.pt$")


@dataclass
class TrainState:
    """Everything about the loop's position and history that a resumed run must continue from."""

    step: int = 0  # batches trained so far, all epochs (the reference's batch_idx_train)
    epoch: int = 1  # current epoch, 1-based (the reference's cur_epoch)
    batches_in_epoch: int = 0  # batches of `epoch` already trained (0 at an epoch start)
    epoch_done: bool = False  # True when written after the last batch of `epoch`
    best_train_loss: float = float("inf")
    best_valid_loss: float = float("inf")
    best_train_epoch: int = -1
    best_valid_epoch: int = -1
    skipped_steps: int = 0  # optimizer steps skipped for a non-finite loss or gradient
    train_stage: int = 0  # stage that wrote the checkpoint (0 both, 1 AR, 2 NAR)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainState:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def plain(value: Any) -> Any:
    """Config values as checkpoint-safe plain data: paths -> str, enums -> value, dataclasses -> dict."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------- RNG state
def capture_rng(generator: torch.Generator) -> dict[str, Any]:
    """This process's random states: Python, NumPy, torch CPU (+ CUDA) and the trainer's own generator."""
    np_state = cast(tuple[Any, ...], np.random.get_state(legacy=True))
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [np_state[0], torch.from_numpy(np.asarray(np_state[1]).copy()), *np_state[2:]],
        "torch": torch.get_rng_state(),
        "generator": generator.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any], generator: torch.Generator) -> None:
    """Inverse of `capture_rng` (CUDA states only when this process also has CUDA)."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    torch.set_rng_state(state["torch"])
    generator.set_state(state["generator"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---------------------------------------------------------------------------------------------- files
def save_train_checkpoint(path: Path, payload: dict[str, Any]) -> Path:
    """Write `payload` (+ format tag) atomically to `path` and point exp_dir/latest.txt at it."""
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, **payload}
    with atomic_write(path) as tmp:
        torch.save(payload, tmp)
    with atomic_write(path.parent / LATEST) as tmp:
        tmp.write_text(path.name + "\n")
    return path


def copy_checkpoint(src: Path, dst: Path) -> None:
    """Copy a checkpoint file atomically (a reader never sees a half-copied best-*.pt)."""
    with atomic_write(dst) as tmp:
        shutil.copyfile(src, tmp)


def load_train_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint safely (tensors and plain data only; see `valle.models.read_checkpoint_dict`).

    Returns our training-checkpoint dict, or - for a file another trainer wrote (lifeiteng/vall-e's
    `epoch-N.pt`, or an inference checkpoint) - a dict holding just `model` (weights), `foreign=True`, and
    the `symbols` and recommended `synthesis` settings an inference checkpoint names, so training can start
    from its weights with fresh optimizer state.
    """
    from valle.models import read_checkpoint_dict

    ckpt = read_checkpoint_dict(path)
    if ckpt.get("format") == FORMAT:
        version = int(ckpt.get("format_version", 0))
        if version > FORMAT_VERSION:
            raise CheckpointError(f"training checkpoint {path} has format version {version}; upgrade valle to resume it")
        return ckpt
    weights = ckpt.get("model") if isinstance(ckpt.get("model"), dict) else ckpt.get("state_dict")
    if not isinstance(weights, dict):
        raise CheckpointError(f"{path} holds no model weights ('model' or 'state_dict'); it is not a VALL-E checkpoint")
    symbols = ckpt.get("symbols")  # an inference checkpoint names the text symbols its embedding rows stand for
    extra = ckpt.get("extra") if isinstance(ckpt.get("extra"), dict) else {}
    return {"model": weights, "foreign": True, "symbols": symbols if isinstance(symbols, list) else None,
            "synthesis": extra.get("synthesis")}  # fmt: skip


def resume_path(exp_dir: Path, resume: str | None, start_batch: int, start_epoch: int) -> Path | None:
    """Which checkpoint a run starts from (the reference's rules, plus `--resume latest|PATH`).

    `resume` wins; else `start_batch > 0` -> exp_dir/checkpoint-{start_batch}.pt; else `start_epoch > 1` ->
    exp_dir/epoch-{start_epoch - 1}.pt; else None (fresh start).  `--resume latest` with no checkpoint yet is
    a fresh start, so the same command both starts and continues a run.
    """
    if resume:
        if resume != "latest":
            return require_file(resume, "--resume checkpoint", "give a checkpoint file, or 'latest'")
        return latest_checkpoint(exp_dir)
    if start_batch > 0:
        path = exp_dir / f"checkpoint-{start_batch}.pt"
    elif start_epoch > 1:
        path = exp_dir / f"epoch-{start_epoch - 1}.pt"
    else:
        return None
    return require_file(path, "checkpoint", "--start-batch/--start-epoch name a checkpoint to resume from "
                        "(use --resume latest to continue from the newest one)")  # fmt: skip


def latest_checkpoint(exp_dir: Path) -> Path | None:
    """The newest training checkpoint of `exp_dir` (from latest.txt, else the highest checkpoint-N.pt)."""
    pointer = exp_dir / LATEST
    if pointer.is_file():
        path = exp_dir / pointer.read_text().strip()
        if path.is_file():
            return path
        logger.warning("%s names %s, which is gone; looking for checkpoint-*.pt instead", pointer, path.name)
    steps = sorted((int(m.group(1)), p) for p in exp_dir.glob("checkpoint-*.pt") if (m := _STEP_RE.search(p.name)))
    return steps[-1][1] if steps else None


def prune_checkpoints(exp_dir: Path, keep_last_k: int) -> list[Path]:
    """Delete all but the `keep_last_k` newest checkpoint-{step}.pt files; returns the deleted paths."""
    steps = sorted((int(m.group(1)), p) for p in exp_dir.glob("checkpoint-*.pt") if (m := _STEP_RE.search(p.name)))
    doomed = [p for _, p in steps[: max(0, len(steps) - keep_last_k)]]
    for p in doomed:
        p.unlink(missing_ok=True)
    return doomed
