"""Which weights and loop position a run starts from: fresh, a same-stage resume, a new stage, or foreign weights.

* Same stage as the checkpoint: continue exactly (the caller then restores optimizer, schedule, scaler,
  sampler and RNG state from the returned dict).
* Another stage (the reference's AR-then-NAR recipe): keep the weights, start everything else fresh.
  Unlike the reference, `--start-epoch` is honoured (it silently reset it to 1 when switching between
  stages 1 and 2); the step counter restarts, so the new stage gets its own warmup.
* A file that is not a valle training checkpoint (lifeiteng/vall-e's epoch-N.pt, an inference
  checkpoint): its weights, with fresh state.  When it names its text symbols (our inference checkpoints
  do) and they differ from this corpus's, the text-embedding rows are moved to the new ids symbol by
  symbol, so fine-tuning on a corpus with a few new phonemes keeps what the model knew of the others.

Symbols the start checkpoint knows and the corpus lacks stay in the training table (`training_symbols`): a
fine-tune on a smaller corpus must not make the model forget how to read them, and its checkpoints must still
name them.  Likewise the start checkpoint's recommended synthesis settings (`start_synthesis`) travel into the
run's checkpoints: they were tuned on the model being fine-tuned, and without them `valle infer` on the
fine-tuned file would sample with the reference's defaults (top-k off, temperature 1).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from valle.errors import CheckpointError
from valle.models.config import ModelConfig
from valle.train import checkpoint as ckpt_io
from valle.train.config import TrainConfig
from valle.train.setup import check_model_config

logger = logging.getLogger(__name__)


StartCheckpoint = tuple[Path, dict[str, Any]]  # the file a run starts from and what it holds


def read_start_checkpoint(cfg: TrainConfig) -> StartCheckpoint | None:
    """The checkpoint this run starts from (`--resume`, `--start-epoch`, `--start-batch`), read once; None: fresh."""
    path = ckpt_io.resume_path(cfg.exp_dir, cfg.resume, cfg.start_batch, cfg.start_epoch)
    return None if path is None else (path, ckpt_io.load_train_checkpoint(path))


def training_symbols(corpus: list[str], start: StartCheckpoint | None) -> list[str]:
    """The text symbols to train with: the corpus's, plus any the start checkpoint names and the corpus lacks."""
    named = start[1].get("symbols") if start is not None else None
    kept = sorted(set(named) - set(corpus)) if isinstance(named, list) else []
    if kept:
        logger.info("%s: %d text symbol(s) it knows are not in this corpus (%s); kept, so the model still reads them",
                    start[0], len(kept), " ".join(kept))  # type: ignore[index]  # fmt: skip
    return corpus + kept


def start_synthesis(start: StartCheckpoint | None) -> dict[str, Any] | None:
    """The synthesis settings the start checkpoint recommends (None: a fresh start, or it recommends none)."""
    settings = start[1].get("synthesis") if start is not None else None
    if not isinstance(settings, dict) or not settings:
        return None
    logger.info("%s recommends synthesis settings %s; this run's checkpoints carry them (valle export-model "
                "--synthesis changes them)", start[0], json.dumps(settings, sort_keys=True))  # type: ignore[index]  # fmt: skip
    return settings


def load_start_checkpoint(cfg: TrainConfig, model: nn.Module, model_config: ModelConfig, is_main: bool,
                          start: StartCheckpoint | None, symbols: list[str] | None = None
                          ) -> tuple[dict[str, Any] | None, ckpt_io.TrainState | None]:  # fmt: skip
    """Load the start checkpoint's weights into `model`.

    `start` is the checkpoint as `read_start_checkpoint` read it (None: a fresh start).  `symbols` (the training
    symbol table, `training_symbols`) lets weights with another symbol table be remapped row by row.

    Returns:
        (checkpoint dict, its TrainState) for a same-stage resume; (None, None) for a fresh start, a stage
        switch or foreign weights (the caller starts a fresh TrainState at --start-epoch).
    """
    if start is None:
        return None, None
    path, saved = start
    named = saved.get("symbols")
    if saved.get("foreign"):
        logger.info("starting from the weights of %s (not a valle training checkpoint: fresh optimizer state)", path)
    else:
        check_model_config(saved["model_config"], model_config, path)
    if isinstance(named, list) and symbols is not None and sorted(named) != sorted(symbols):
        saved["model"] = remap_text_rows(saved["model"], named, symbols, model.state_dict(), path)
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


TEXT_EMBEDDINGS = ("ar_text_embedding.word_embeddings.weight", "nar_text_embedding.word_embeddings.weight")


def remap_text_rows(weights: dict[str, Tensor], old: list[str], new: list[str], fresh: dict[str, Tensor],
                    path: Path) -> dict[str, Tensor]:  # fmt: skip
    """`weights` with each text-embedding row moved from its id under `old` symbols to its id under `new`.

    Model ids are positions in the collater's vocabulary (specials, then the sorted symbols), so one new
    symbol shifts every id after it.  Symbols only `new` has keep the rows of `fresh` (the new model's
    initialisation); rows past the vocabulary keep the checkpoint's.
    """
    from valle.text import TextTokenCollater

    old_ids, new_ids = TextTokenCollater(old).token2idx, TextTokenCollater(new).token2idx
    added = sorted(set(new_ids) - set(old_ids))
    out = dict(weights)
    for key in TEXT_EMBEDDINGS:
        if key not in weights or key not in fresh or weights[key].shape != fresh[key].shape:
            continue  # a shape mismatch is reported by load_state_dict
        rows = weights[key].clone()
        for token, i in new_ids.items():
            rows[i] = weights[key][old_ids[token]] if token in old_ids else fresh[key][i]
        out[key] = rows
    logger.info("%s: text symbols differ from this run's; embedding rows remapped by symbol (%d new: %s)",
                path, len(added), " ".join(added) or "-")  # fmt: skip
    return out
