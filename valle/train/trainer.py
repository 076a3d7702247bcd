"""The training loop: `train(cfg)` on one CPU/GPU or as one rank of a torchrun / spawned DDP job.

Reading order: `Trainer.__init__` builds everything (model, resume, data, optimizer); `run` loops over
epochs; `_epoch` over batches; `_train_batch` is one forward/backward; `_update` one optimizer step.

Rules that keep multi-process runs from hanging (the reference's 8-GPU runs hung at validation): every
rank makes the same collective calls in the same order.  Ranks agree once per batch whether to go on
(`all_agree`: data left on every rank, step/time budget not reached); validation runs on every rank over its
own share of the dev set with the unwrapped model and sums its totals once; checkpoints gather every
rank's RNG state, then rank 0 writes.

Non-finite losses or gradients never reach the weights: a non-finite loss is turned into NaN gradients
(so every DDP rank sees the same NaN after the all-reduce), a non-finite gradient norm skips the optimizer
step on all ranks alike, and the skip is counted, logged and sent to tensorboard.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import logging
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from valle.errors import CheckpointError
from valle.models import build_model, save_checkpoint
from valle.models.attention import use_float32_attention
from valle.models.config import PrefixMode
from valle.text import TextTokenCollater
from valle.train import averaging
from valle.train import checkpoint as ckpt_io
from valle.train.config import DType, OptimizerName, TrainConfig
from valle.train.data import (
    build_train_data,
    build_valid_loader,
    make_loader,
    total_duration,
)
from valle.train.distributed import (
    DistEnv,
    all_agree,
    destroy_process_group,
    gather_state_dicts,
    init_process_group,
    resolve_device,
)
from valle.train.hooks import register_inf_check_hooks
from valle.train.metrics import Eta, Tally, format_eta
from valle.train.monitor import Monitor
from valle.train.oom import run_pessimistic_batches
from valle.train.resume import load_start_checkpoint, read_start_checkpoint, start_synthesis, training_symbols
from valle.train.setup import (
    build_optimizer,
    build_schedule,
    count_batches,
    read_corpus_info,
    sized_model_config,
    stage_parameters,
)
from valle.train.visualize import check_available as check_visualize

logger = logging.getLogger(__name__)

FRAME_RATE = 75.0  # codec frames per second (24 kHz / 320), used to turn frames into seconds for the ETA
ADAM_CLIP_NORM = 1.0  # the reference clips Adam/AdamW gradients to this norm (ScaledAdam clips itself)


@dataclass
class TrainResult:
    """What a finished `train` call reports (rank 0's view; losses are per-token means)."""

    step: int  # batches trained in total
    epoch: int  # last epoch trained in (1-based)
    stopped_by: str  # "epochs", "max_steps" or "max_minutes"
    train_losses: list[tuple[int, float]] = field(default_factory=list)  # (step, loss) of every batch of this run
    valid_losses: list[tuple[int, float]] = field(default_factory=list)  # (step, loss) of every validation
    skipped_steps: int = 0  # optimizer steps skipped (non-finite loss/gradient), all runs of this exp dir
    checkpoint: Path | None = None  # last training checkpoint written
    model_checkpoint: Path | None = None  # last inference checkpoint written (model-last.pt)


def train(cfg: TrainConfig, env: DistEnv | None = None) -> TrainResult:
    """Train (or resume) as described by `cfg`; in a torchrun job every rank calls this."""
    env = env or DistEnv.from_environ()
    device = resolve_device(cfg.device, env)
    init_process_group(env, device)
    try:
        return Trainer(cfg, env, device).run()
    finally:
        destroy_process_group()


def model_inputs(batch: dict[str, Any], device: torch.device, train_stage: int) -> dict[str, Any]:
    """Keyword arguments of the model's training forward for one collated batch (`TtsDataset`), on `device`."""
    inputs = {
        "x": batch["text_tokens"].to(device), "x_lens": batch["text_tokens_lens"].to(device),
        "y": batch["audio_features"].to(device), "y_lens": batch["audio_features_lens"].to(device),
        "train_stage": train_stage,
    }  # fmt: skip
    if "prompts" in batch:
        inputs["prompt"] = batch["prompts"].to(device)
        inputs["prompt_lens"] = batch["prompts_lens"].to(device)
    return inputs


class Trainer:
    """One rank's training state and loop (see module docstring)."""

    def __init__(self, cfg: TrainConfig, env: DistEnv, device: torch.device) -> None:
        self.cfg, self.env, self.device = cfg, env, device
        threads = cfg.num_threads
        if threads is None and env.distributed and device.type == "cpu":  # share the cores among local ranks
            threads = max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", env.world_size)))
        if threads is not None:
            torch.set_num_threads(threads)
        cfg.exp_dir.mkdir(parents=True, exist_ok=True)
        if env.is_main:
            for stale in cfg.exp_dir.glob(".*.tmp*"):  # half-written files of a killed run (see atomic_write)
                stale.unlink(missing_ok=True)
        self._seed_everything(cfg.seed)
        assert cfg.data.text_tokens is not None  # DataConfig fills in the default
        self.corpus = read_corpus_info(cfg.data.manifest_dir, cfg.data.text_tokens)
        start = read_start_checkpoint(cfg)
        self.corpus = replace(self.corpus, symbols=training_symbols(self.corpus.symbols, start))
        self.synthesis = start_synthesis(start)  # carried into every checkpoint this run writes
        self.collater = TextTokenCollater(self.corpus.symbols)
        self.model_config = sized_model_config(cfg.model, len(self.collater), self.corpus.codec)
        self.raw_model = build_model(self.model_config).to(device)
        if cfg.fp32_attention and cfg.dtype != DType.FLOAT32:
            count = use_float32_attention(self.raw_model)
            logger.info("--fp32-attention: %d attention blocks run in float32 under %s autocast", count, cfg.dtype.value)
        self.generator = torch.Generator()  # NAR stage / prompt-length draws (CPU: that is where they happen)
        self.bad_loss_steps: list[int] = []  # batches of the pending update whose loss was not finite
        self.last_valid_step = -1  # step of the last validation (an epoch end right after one skips it)
        saved, state = load_start_checkpoint(cfg, self.raw_model, self.model_config, env.is_main, start,
                                             self.corpus.symbols)
        self.state = state or ckpt_io.TrainState(epoch=cfg.start_epoch, train_stage=int(cfg.train_stage))
        self.params = stage_parameters(self.raw_model, cfg.train_stage)
        self.average = self._init_average(saved)
        self._build_data()
        if cfg.oom_check:
            run_pessimistic_batches(self, self.cfg.data)
        self.model: nn.Module = self._wrap(self.raw_model)
        if cfg.inf_check:
            register_inf_check_hooks(self.raw_model)
        if cfg.visualize:
            check_visualize()
        self.optimizer = build_optimizer(cfg, self.params)
        self.schedule = build_schedule(cfg, self.optimizer, self._cosine_horizon())
        self.scaler = torch.amp.GradScaler(device.type, enabled=cfg.dtype == DType.FLOAT16)
        self.monitor = Monitor(cfg, env, self.state.step)
        self._restore_training_state(saved)
        self.result = TrainResult(step=self.state.step, epoch=self.state.epoch, stopped_by="epochs")

    # ------------------------------------------------------------------ construction helpers
    def _seed_everything(self, seed: int) -> None:
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)  # same initial weights on every rank (DDP also broadcasts rank 0's)

    def _init_average(self, saved: dict[str, Any] | None) -> dict[str, torch.Tensor] | None:
        if not self.cfg.average_period or not self.env.is_main:
            return None
        if saved is not None and saved.get("model_avg") is not None:
            return saved["model_avg"]
        return averaging.init_average(self.raw_model)

    def _build_data(self) -> None:
        cfg, env = self.cfg, self.env
        prompts = self.model_config.prefix_mode == PrefixMode.OTHER
        self.sampler, self.dataset, cuts = build_train_data(cfg.data, self.collater, prompts, cfg.seed,
                                                            env.world_size, env.rank)  # fmt: skip
        self.valid_loader = build_valid_loader(cfg.data, self.collater, prompts, cfg.seed, env.world_size, env.rank)
        self.train_seconds = total_duration(cuts) / env.world_size  # per rank, for the ETA
        logger.info("training data: %.2f h per process", self.train_seconds / 3600)

    def _wrap(self, model: nn.Module) -> nn.Module:
        if not self.env.distributed:
            return model
        from torch.nn.parallel import DistributedDataParallel as DDP

        device_ids = [self.device.index] if self.device.type == "cuda" else None
        # The model's buffers (positional tables) are identical on every rank: no per-forward sync needed.
        no_sync: dict[str, Any] = {"forward_sync_buffers": False} if "forward_sync_buffers" in inspect.signature(DDP).parameters else {"broadcast_buffers": False}
        # The NAR trains one random stage per batch, so the other stages' heads get no gradient.
        return DDP(model, device_ids=device_ids, find_unused_parameters=True, **no_sync)

    def _cosine_horizon(self) -> int | None:
        """Total steps the cosine schedule spans: --max-steps, else --num-epochs x batches per epoch."""
        if self.cfg.scheduler_name.value != "Cosine":
            return None
        if self.cfg.max_steps:
            return self.cfg.max_steps
        from valle.data.sampler import load_cuts, make_sampler

        cuts = load_cuts(self.cfg.data.manifest_dir / "cuts_train.jsonl.gz")
        per_epoch = count_batches(make_sampler(cuts, self.cfg.data, world_size=self.env.world_size, rank=self.env.rank))
        return max(1, per_epoch * (self.cfg.num_epochs - self.cfg.start_epoch + 1))

    def _restore_training_state(self, saved: dict[str, Any] | None) -> None:
        """Optimizer, schedule, scaler and RNG state of a same-stage resume (RNG last: nothing draws after it)."""
        self.pending_sampler, self.pending_tallies = None, None
        if saved is None:
            return
        self.optimizer.load_state_dict(saved["optimizer"])
        self.schedule.load_state_dict(saved["scheduler"])
        if saved.get("grad_scaler"):
            self.scaler.load_state_dict(saved["grad_scaler"])
        if not self.state.epoch_done:
            per_rank = saved.get("ranks") or []
            if len(per_rank) != self.env.world_size:
                raise CheckpointError(
                    f"the checkpoint was written by {len(per_rank)} process(es), this run has {self.env.world_size}; "
                    "resume mid-epoch with the same --world-size (or resume from an epoch-N.pt)"
                )
            mine = per_rank[self.env.rank]
            self.pending_sampler = saved.get("sampler")
            self.pending_tallies = (Tally(**mine["epoch_tally"]), Tally(**mine["interval_tally"]))
            ckpt_io.restore_rng(mine["rng"], self.generator)

    # ------------------------------------------------------------------ the loop
    def run(self) -> TrainResult:
        cfg, state = self.cfg, self.state
        self.eta = Eta()
        first = state.epoch + 1 if state.epoch_done else state.epoch
        self.model.train()
        try:
            for epoch in range(first, cfg.num_epochs + 1):
                if self._out_of_budget() or not self._epoch(epoch):
                    break
                self._end_of_epoch()
            self._finish()
        finally:
            self.monitor.close()
        return self.result

    def _epoch(self, epoch: int) -> bool:
        """Train one epoch (or its remainder); False when a step/time budget stopped it early."""
        state, cfg = self.state, self.cfg
        self.epoch_tally, self.interval_tally = Tally(), Tally()
        if state.epoch != epoch or self.pending_sampler is None:
            state.epoch, state.batches_in_epoch, state.epoch_done = epoch, 0, False
            self.sampler.set_epoch(epoch - 1)
            self._seed_epoch(epoch)
        else:  # mid-epoch resume: continue the sampler and the running sums where the checkpoint left them
            self.sampler.load_state(self.pending_sampler)
            self.epoch_tally, self.interval_tally = self.pending_tallies or (Tally(), Tally())
        self.pending_sampler = self.pending_tallies = None
        self.dataset.epoch = epoch - 1
        self.schedule.set(state.step, epoch - 1)
        self.interval_start = time.monotonic()
        batches = iter(make_loader(self.dataset, self.sampler, cfg.data.num_workers, cfg.seed + epoch))
        while True:
            batch = next(batches, None)
            has_data, budget = self._agree(batch is not None)
            if not has_data:
                break
            if budget is not None:
                self.result.stopped_by = budget
                return False
            assert batch is not None  # every rank has data
            self._train_batch(batch)
            self._after_batch(batch)
        if state.step % cfg.accumulate_grad_steps:
            self._update(leftover=True)  # the reference also applies a partial accumulation at an epoch end
        return True

    def _seed_epoch(self, epoch: int) -> None:
        # Per-epoch seeds as the reference's fix_random_seed(seed + epoch - 1), distinct per rank.
        seed = self.cfg.seed + epoch - 1 + 7919 * self.env.rank
        torch.manual_seed(seed)
        random.seed(seed)
        self.generator.manual_seed(seed)

    def _agree(self, has_batch: bool) -> tuple[bool, str | None]:
        """One collective per batch: does every rank still have data, and is any rank out of budget?"""
        # Budgets stop only between optimizer updates, so a checkpoint never misses accumulated gradients.
        budget = self._budget_reached() if self.state.step % self.cfg.accumulate_grad_steps == 0 else None
        has_data, within = all_agree([has_batch, budget is None], self.env, self.device)
        return has_data, None if within else (budget or "max_minutes")  # another rank's clock may run out first

    def _out_of_budget(self) -> bool:
        """Checked before each epoch, by all ranks together."""
        _, budget = self._agree(True)
        if budget is not None:
            self.result.stopped_by = budget
        return budget is not None

    def _budget_reached(self) -> str | None:
        cfg = self.cfg
        if cfg.max_steps is not None and self.state.step >= cfg.max_steps:
            return "max_steps"
        if cfg.max_minutes is not None and self.eta.elapsed() >= 60 * cfg.max_minutes:
            return "max_minutes"
        return None

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The --dtype autocast context for a forward pass (a no-op for float32)."""
        dtype = {DType.BFLOAT16: torch.bfloat16, DType.FLOAT16: torch.float16}.get(self.cfg.dtype)
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def model_inputs(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments of the model's training forward for one batch, on the device."""
        return model_inputs(batch, self.device, self.cfg.train_stage)

    def _train_batch(self, batch: dict[str, Any]) -> None:
        """Forward + backward of one batch; an optimizer update every --accumulate-grad-steps batches."""
        cfg = self.cfg
        update = (self.state.step + 1) % cfg.accumulate_grad_steps == 0
        no_sync = self.env.distributed and not update
        with self.model.no_sync() if no_sync else contextlib.nullcontext():  # type: ignore[operator]
            with self.autocast():
                out = self.model(**self.model_inputs(batch), generator=self.generator,
                                 scheduled_sampling=cfg.scheduled_sampling, text_dropout=cfg.text_dropout)
            loss = out.loss / cfg.accumulate_grad_steps
            if not torch.isfinite(loss.detach()):
                self.bad_loss_steps.append(self.state.step + 1)
                loss = loss * math.nan  # NaN gradients on this rank -> NaN everywhere after all-reduce -> all skip
            self.scaler.scale(loss).backward()
        frames = int(batch["audio_features_lens"].sum())
        for tally in (self.interval_tally, self.epoch_tally):
            tally.add(out, frames, len(batch["utt_id"]))
        if self.env.is_main:
            self.result.train_losses.append((self.state.step + 1, float(out.loss.detach())))
        if update:
            self._update()

    def _update(self, leftover: bool = False) -> None:
        """One optimizer step from the accumulated gradients, unless they are not finite."""
        if leftover and self.env.distributed:
            self._all_reduce_grads()  # the last micro-batches ran under no_sync
        self.scaler.unscale_(self.optimizer)
        max_norm = math.inf if self.cfg.optimizer_name == OptimizerName.SCALED_ADAM else ADAM_CLIP_NORM
        norm = float(torch.nn.utils.clip_grad_norm_(self.params, max_norm))
        self.last_grad_norm = norm
        if math.isfinite(norm):
            self.scaler.step(self.optimizer)
        else:
            self._report_skip(norm)
            if self.scaler.is_enabled():
                self.scaler.step(self.optimizer)  # sees the inf, skips, and lets update() lower the scale
        self.bad_loss_steps.clear()
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)

    def _report_skip(self, norm: float) -> None:
        self.state.skipped_steps += 1
        step, skipped = self.state.step + 1, self.state.skipped_steps
        if self.bad_loss_steps:
            logger.warning("step %d: the loss is not finite (batches %s); skipping this update (%d skipped so far)",
                           step, self.bad_loss_steps, skipped)  # fmt: skip
        elif self.scaler.is_enabled():  # ordinary float16 overflow: GradScaler lowers its scale and goes on
            logger.info("step %d: float16 gradients overflowed at scale %g; skipping this update and lowering the "
                        "scale (%d skipped so far)", step, self.scaler.get_scale(), skipped)  # fmt: skip
        else:
            logger.warning("step %d: gradient norm is %s; skipping this update (%d skipped so far)", step, norm, skipped)

    def _all_reduce_grads(self) -> None:
        import torch.distributed as dist

        for p in self.params:  # same list on every rank; missing gradients count as zeros
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            dist.all_reduce(p.grad)
            p.grad.div_(self.env.world_size)

    def _after_batch(self, batch: dict[str, Any]) -> None:
        """Counters, averaging, logging, validation and checkpoints that follow a trained batch."""
        cfg, state = self.cfg, self.state
        state.step += 1
        state.batches_in_epoch += 1
        self.eta.add(float(batch["audio_features_lens"].sum()) / FRAME_RATE)
        self.schedule.set(state.step, state.epoch - 1)
        if self.average is not None and state.step % cfg.average_period == 0:
            averaging.update_average(self.average, self.raw_model, state.step, cfg.average_period)
        if state.step % cfg.log_interval == 0:
            self._log_progress()
        if state.step % cfg.valid_interval == 0:
            self._validate()
        if state.step % cfg.save_every_n == 0:
            self._save(cfg.exp_dir / f"checkpoint-{state.step}.pt")
            if self.env.is_main:
                ckpt_io.prune_checkpoints(cfg.exp_dir, cfg.keep_last_k)

    def _end_of_epoch(self) -> None:
        cfg, state = self.cfg, self.state
        tally = self.epoch_tally.reduced(self.env, self.device)
        logger.info("epoch %d done: %s", state.epoch, tally.describe())
        if tally.batches and tally.loss < state.best_train_loss:
            state.best_train_loss, state.best_train_epoch = tally.loss, state.epoch
        self._validate()
        state.epoch_done = True
        path = self._save(cfg.exp_dir / f"epoch-{state.epoch}.pt")
        if self.env.is_main:
            for name, best in (("best-train-loss", state.best_train_epoch), ("best-valid-loss", state.best_valid_epoch)):
                if best == state.epoch:
                    ckpt_io.copy_checkpoint(path, cfg.exp_dir / f"{name}.pt")
            self.result.model_checkpoint = self._save_model(cfg.exp_dir / "model-last.pt")

    def _finish(self) -> None:
        """After the last epoch or at a budget stop: validate (if mid-epoch), checkpoint, export the model."""
        cfg, state = self.cfg, self.state
        if not state.epoch_done:  # stopped by a budget inside an epoch
            self._validate()
            self._save(cfg.exp_dir / f"checkpoint-{state.step}.pt")
            if self.env.is_main:
                ckpt_io.prune_checkpoints(cfg.exp_dir, cfg.keep_last_k)
                self.result.model_checkpoint = self._save_model(cfg.exp_dir / "model-last.pt")
        if self.env.is_main and self.average is not None:
            self._save_model(cfg.exp_dir / "model-avg.pt", averaged=True)
        self.result.step, self.result.epoch, self.result.skipped_steps = state.step, state.epoch, state.skipped_steps
        logger.info("training stopped (%s) at step %d, epoch %d; %d update(s) skipped", self.result.stopped_by,
                    state.step, state.epoch, state.skipped_steps)  # fmt: skip

    # ------------------------------------------------------------------ validation, logging, saving
    @torch.no_grad()
    def _validate(self) -> None:
        """Loss over the dev set on every rank (own share, unwrapped model), summed across ranks."""
        if self.valid_loader is None or self.last_valid_step == self.state.step:
            return
        self.last_valid_step = self.state.step
        model = self.raw_model
        model.eval()
        generator = torch.Generator().manual_seed(self.cfg.seed)  # same NAR draws every time: comparable losses
        tally, first = Tally(), None
        for batch in self.valid_loader:
            with self.autocast():
                out = model(**self.model_inputs(batch), generator=generator)
            tally.add(out, int(batch["audio_features_lens"].sum()), len(batch["utt_id"]))
            first = first or batch
        tally = tally.reduced(self.env, self.device)
        model.train()
        state = self.state
        if tally.batches and tally.loss < state.best_valid_loss:
            state.best_valid_loss, state.best_valid_epoch = tally.loss, state.epoch
            if self.env.is_main:
                self._save_model(self.cfg.exp_dir / "model-best-valid.pt")
        if self.env.is_main and tally.batches:
            self.result.valid_losses.append((state.step, tally.loss))
            self.monitor.validation(state, tally)
            if self.cfg.visualize and first is not None:
                from valle.train.visualize import save_prediction_plots

                out_dir = self.cfg.exp_dir / "eval" / f"step-{state.step:06d}"
                with self.autocast():
                    save_prediction_plots(model, first, out_dir, self.cfg.train_stage, self.device)
                model.train()

    def _log_progress(self) -> None:
        tally = self.interval_tally.reduced(self.env, self.device)
        elapsed = time.monotonic() - self.interval_start
        self.monitor.progress(self.state, tally, lr=self.schedule.get_last_lr()[0],
                              grad_norm=getattr(self, "last_grad_norm", math.nan),
                              frames_per_s=tally.frames / max(elapsed, 1e-9), eta=format_eta(self._seconds_left()),
                              grad_scale=self.scaler.get_scale() if self.scaler.is_enabled() else None)  # fmt: skip
        self.interval_tally, self.interval_start = Tally(), time.monotonic()

    def _seconds_left(self) -> float | None:
        cfg, state = self.cfg, self.state
        epoch_done = self.epoch_tally.frames / FRAME_RATE / max(self.train_seconds, 1e-9)
        epochs_left = (cfg.num_epochs - state.epoch) + max(0.0, 1.0 - epoch_done)
        steps_left = None if cfg.max_steps is None else cfg.max_steps - state.step
        return self.eta.seconds_left(epochs_left * self.train_seconds, steps_left, cfg.max_minutes)

    def _save(self, path: Path) -> Path:
        """Write a training checkpoint (every rank contributes its RNG state and running sums; rank 0 writes)."""
        mine = {"rng": ckpt_io.capture_rng(self.generator), "epoch_tally": asdict(self.epoch_tally),
                "interval_tally": asdict(self.interval_tally)}  # fmt: skip
        per_rank = gather_state_dicts(mine, self.env)
        if self.env.is_main:
            state = self.state
            sampler = self.sampler.state_after(state.batches_in_epoch) if state.batches_in_epoch else None
            payload = {
                "model": self.raw_model.state_dict(),
                **self.model_config.to_dict(),
                "model_config": self.model_config.to_dict(),
                "model_avg": self.average,
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.schedule.state_dict(),
                "grad_scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
                "sampler": sampler,
                "ranks": per_rank,
                "state": asdict(state),
                "train_config": ckpt_io.plain(self.cfg),
                **asdict(self.corpus),
                "synthesis": self.synthesis,
            }
            ckpt_io.save_train_checkpoint(path, payload)
            self.result.checkpoint = path
            logger.info("saved %s", path)
        return path

    def _save_model(self, path: Path, averaged: bool = False) -> Path:
        """Write a small inference checkpoint (weights + symbols + tokenizer + codec) of the current model."""
        model = self.raw_model
        if averaged and self.average is not None:
            model = copy.deepcopy(self.raw_model)
            model.load_state_dict(averaging.averaged_state_dict(self.average, self.raw_model))
        extra = {"step": self.state.step, "epoch": self.state.epoch, "train_stage": int(self.cfg.train_stage),
                 "best_valid_loss": self.state.best_valid_loss, "averaged": averaged,
                 "text_dropout": self.cfg.text_dropout}  # fmt: skip
        if self.synthesis:
            extra["synthesis"] = self.synthesis
        return save_checkpoint(path, model, symbols=self.corpus.symbols, tokenizer=self.corpus.tokenizer,
                               codec=self.corpus.codec, extra=extra)  # fmt: skip
