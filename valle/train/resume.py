"""Which weights and loop position a run starts from: fresh, a same-stage resume, a new stage, or foreign weights.

* Same stage as the checkpoint: continue exactly (the caller then restores optimizer, schedule, scaler,
  sampler and RNG state from the returned dict).
* Another stage (the reference's AR-then-NAR recipe): keep the weights, start everything else fresh.
  Unlike the reference, `--start-epoch` is honoured (it silently reset it to 1 when switching between
  stages 1 and 2); the step counter restarts, so the new stage gets its own warmup.
* A file that is not a valle training checkpoint (lifeiteng/vall-e's epoch-N.pt, an inference
  checkpoint): its weights, with fresh state.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from torch import nn

from valle.errors import CheckpointError
from valle.models.config import ModelConfig
from valle.train import checkpoint as ckpt_io
from valle.train.config import TrainConfig
from valle.train.setup import check_model_config

logger = logging.getLogger(__name__)


def load_start_checkpoint(cfg: TrainConfig, model: nn.Module, model_config: ModelConfig, is_main: bool
                          ) -> tuple[dict[str, Any] | None, ckpt_io.TrainState | None]:  # fmt: skip
    """Load the start checkpoint's weights into `model`.

    Returns:
        (checkpoint dict, its TrainState) for a same-stage resume; (None, None) for a fresh start, a stage
        switch or foreign weights (the caller starts a fresh TrainState at --start-epoch).
    """
    path = ckpt_io.resume_path(cfg.exp_dir, cfg.resume, cfg.start_batch, cfg.start_epoch)
    if path is None:
        return None, None
    saved = ckpt_io.load_train_checkpoint(path)
    if saved.get("foreign"):
        logger.info("starting from the weights of %s (not a valle training checkpoint: fresh optimizer state)", path)
    else:
        check_model_config(saved["model_config"], model_config, path)
    try:
        model.load_state_dict(saved["model"], strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{path} does not fit this model: {str(e).splitlines()[0]}") from None
    if saved.get("foreign"):
        return None, None
    state = ckpt_io.TrainState.from_dict(saved["state"])
    if state.train_stage != int(cfg.train_stage):
        _switch_stage(cfg, path, state.train_stage, is_main)
        return None, None
    logger.info("resuming from %s: step %d, epoch %d%s", path, state.step, state.epoch,
                " (finished)" if state.epoch_done else f", batch {state.batches_in_epoch}")  # fmt: skip
    return saved, state


def _switch_stage(cfg: TrainConfig, path: Path, old_stage: int, is_main: bool) -> None:
    logger.info("switching from train stage %d to %d with the weights of %s; fresh optimizer, schedule and "
                "sampler; starting at epoch %d", old_stage, int(cfg.train_stage), path, cfg.start_epoch)  # fmt: skip
    if is_main:  # keep the previous stage's best checkpoints under their own names, as the reference does
        for name in ("best-train-loss", "best-valid-loss"):
            src = cfg.exp_dir / f"{name}.pt"
            if src.is_file():
                ckpt_io.copy_checkpoint(src, cfg.exp_dir / f"{name}-stage{old_stage}.pt")
