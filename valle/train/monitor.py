"""Rank 0's reporting: the progress line, tensorboard scalars, and `exp_dir/metrics.jsonl`.

metrics.jsonl (metrics_stage{1,2}.jsonl for --train-stage 1/2, beside tensorboard_stage{1,2}/) holds one JSON object per progress report and per validation (`split` = "train" | "valid",
`step`, `epoch`, and the numbers), so curves can be drawn without tensorboard (the demo does).  A resumed
run first drops lines written after the step it resumes from, so the file reads as one uninterrupted run.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from valle.train.checkpoint import TrainState
from valle.train.config import TrainConfig
from valle.train.distributed import DistEnv
from valle.train.metrics import Tally
from valle.utils import atomic_write

logger = logging.getLogger(__name__)


class Monitor:
    """Writes progress on rank 0; a silent no-op on other ranks."""

    def __init__(self, cfg: TrainConfig, env: DistEnv, start_step: int) -> None:
        self.active = env.is_main
        stage = int(cfg.train_stage)
        suffix = f"_stage{stage}" if stage else ""  # as the reference names its tensorboard dirs
        self.metrics_path = cfg.exp_dir / f"metrics{suffix}.jsonl"
        self.writer: Any = None
        if not self.active:
            return
        self._truncate_after(start_step)
        if cfg.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(cfg.exp_dir / f"tensorboard{suffix}"))

    def _truncate_after(self, step: int) -> None:
        if not self.metrics_path.is_file():
            return
        kept = []
        for line in self.metrics_path.read_text().splitlines():
            try:
                if json.loads(line)["step"] <= step:
                    kept.append(line)
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line cut short when the previous run was killed
        with atomic_write(self.metrics_path) as tmp:
            tmp.write_text("".join(line + "\n" for line in kept))

    def _record(self, split: str, state: TrainState, values: dict[str, float]) -> None:
        with self.metrics_path.open("a") as f:
            f.write(json.dumps({"split": split, "step": state.step, "epoch": state.epoch, **values}) + "\n")
        if self.writer is not None:
            for name, value in values.items():
                self.writer.add_scalar(f"{split}/{name}", value, state.step)
            self.writer.flush()

    def progress(self, state: TrainState, tally: Tally, *, lr: float, grad_norm: float, frames_per_s: float,
                 eta: str, grad_scale: float | None = None) -> None:  # fmt: skip
        """The periodic training report (interval averages over all ranks)."""
        if not self.active:
            return
        values = {**tally.scalars(), "lr": lr, "grad_norm": grad_norm, "frames_per_s": frames_per_s,
                  "skipped_steps": float(state.skipped_steps)}  # fmt: skip
        if grad_scale is not None:
            values["grad_scale"] = grad_scale
        logger.info("epoch %d | step %d | batch %d | %s | lr %.2e | grad %.3g | %.0f frames/s | skipped %d | ETA %s",
                    state.epoch, state.step, state.batches_in_epoch, tally.describe(), lr, grad_norm, frames_per_s,
                    state.skipped_steps, eta)  # fmt: skip
        self._record("train", state, values)

    def validation(self, state: TrainState, tally: Tally) -> None:
        if not self.active:
            return
        logger.info("epoch %d | step %d | validation: %s (best %.4f)", state.epoch, state.step, tally.describe(),
                    state.best_valid_loss)  # fmt: skip
        self._record("valid", state, tally.scalars())

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
