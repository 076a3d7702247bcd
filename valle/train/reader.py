"""Training the code reader (`valle train-reader`): CTC from codebook 1 of a tokenized corpus to its phonemes.

It reads the same manifests as `valle train` (`cuts_{train,dev}.jsonl.gz` + the symbol table + codec.json), so a
corpus tokenized once trains both.  It keeps the checkpoint with the lowest dev loss per target token (or the last
one without a dev manifest), written atomically, and stops after `max_minutes` or `num_epochs`.  With `init` it
goes on from an existing reader (same symbols and codec): its dev loss is the one to beat, so the written file is
never worse than the one it started from.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from valle.data.config import DataConfig
from valle.models.code_reader import CodeReader, CodeReaderConfig, save_reader
from valle.train.data import build_train_data, build_valid_loader, make_loader
from valle.train.setup import read_corpus_info

logger = logging.getLogger(__name__)


@dataclass
class ReaderTrainConfig:
    """What `valle train-reader` needs."""

    manifest_dir: Path
    out: Path  # the reader checkpoint to write
    max_duration: float = 200.0  # seconds of audio per batch
    num_epochs: int = 20
    max_minutes: float | None = None  # stop (keeping the best checkpoint) after this much training time
    lr: float = 2e-3
    warmup_steps: int = 200
    dim: int = 256
    valid_interval: int = 500  # steps between dev evaluations (and at every epoch end)
    num_workers: int = 2
    seed: int = 0
    init: Path | None = None  # go on training this reader (its shape wins over `dim`)


def _targets(batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
    """The text ids without BOS and EOS ([B, L - 1], lengths L - 2): what the reader must spell."""
    return batch["text_tokens"][:, 1:], batch["text_tokens_lens"].long() - 2


def batch_loss(reader: CodeReader, batch: dict[str, Any]) -> tuple[Tensor, int]:
    """Summed CTC loss of a batch and its number of target tokens (rows that cannot hold their text are left out)."""
    codes, lens = batch["audio_features"][..., 0], batch["audio_features_lens"].long()
    targets, target_lens = _targets(batch)
    losses = reader.ctc_loss(codes, lens, targets, target_lens)
    ok = torch.isfinite(losses)
    return losses[ok].sum(), int(target_lens[ok].sum())


@torch.no_grad()
def dev_loss(reader: CodeReader, loader: Any) -> float:
    """Dev CTC loss per target token (nats)."""
    reader.eval()
    total, tokens = 0.0, 0
    for batch in loader:
        loss, n = batch_loss(reader, batch)
        total, tokens = total + float(loss), tokens + n
    reader.train()
    return total / max(tokens, 1)


def _init_reader(
    path: Path, vocab: list[str], codebook_size: int, codec: dict[str, Any] | None
) -> tuple[CodeReader, dict[str, Any]]:
    """The reader to go on from, checked against this corpus; its `extra` records where it came from."""
    from valle.errors import InvalidInputError, require_file
    from valle.models.code_reader import load_reader

    reader, info = load_reader(require_file(path, "--init", "give a reader written by 'valle train-reader'"))
    if reader.config.vocab != vocab or reader.config.codebook_size != codebook_size:
        raise InvalidInputError(f"--init {path} reads other symbols or codes than this corpus; train from scratch "
                                "(leave --init out)")  # fmt: skip
    if info["codec"] != codec:
        raise InvalidInputError(f"--init {path} was trained on another codec's codes than this corpus's; "
                                "train from scratch (leave --init out)")  # fmt: skip
    before = info["extra"]
    return reader, {"init": str(path), "init_steps": int(before.get("init_steps", 0)) + int(before.get("step", 0))}


def train_reader(cfg: ReaderTrainConfig) -> float:
    """Train and write `cfg.out`; returns the kept checkpoint's dev loss per token (the last train loss if no dev)."""
    from valle.utils import flush_denormals

    with flush_denormals():  # a confident reader's backward is mostly denormals: 2.5x slower unflushed
        return _train(cfg)


def _train(cfg: ReaderTrainConfig) -> float:
    from tqdm import tqdm

    from valle.text import TextTokenCollater

    torch.manual_seed(cfg.seed)
    data = DataConfig(manifest_dir=cfg.manifest_dir, max_duration=cfg.max_duration, num_workers=cfg.num_workers,
                      seed=cfg.seed)  # fmt: skip
    assert data.text_tokens is not None
    corpus = read_corpus_info(cfg.manifest_dir, data.text_tokens)
    collater = TextTokenCollater(corpus.symbols)
    codebook_size = int((corpus.codec or {}).get("codebook_size", 1024))
    if cfg.init is not None:
        reader, extra = _init_reader(cfg.init, list(collater.vocab), codebook_size, corpus.codec)
    else:
        reader = CodeReader(CodeReaderConfig(vocab=list(collater.vocab), codebook_size=codebook_size, dim=cfg.dim))
        extra = {}
    reader.train()
    sampler, dataset, _ = build_train_data(data, collater, with_prompts=False, seed=cfg.seed)
    valid = build_valid_loader(data, collater, with_prompts=False, seed=cfg.seed)
    opt = torch.optim.AdamW(reader.parameters(), lr=cfg.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / cfg.warmup_steps))
    best, step, start = math.inf, 0, time.monotonic()
    extra = {**extra, "manifest_dir": str(cfg.manifest_dir)}

    def checkpoint(loss: float, last_train: float) -> None:
        nonlocal best
        if loss < best:
            best = loss
            save_reader(reader, cfg.out, corpus.codec, {**extra, "step": step, "dev_loss_per_token": loss,
                                                         "train_loss_per_token": last_train})  # fmt: skip
            logger.info("step %d: dev loss %.4f per token, saved %s", step, loss, cfg.out)

    out_of_time = False
    running = math.nan
    if cfg.init is not None and valid is not None:
        checkpoint(dev_loss(reader, valid), running)  # the starting point is the one to beat
    for epoch in range(cfg.num_epochs):
        sampler.set_epoch(epoch)
        for batch in tqdm(make_loader(dataset, sampler, cfg.num_workers, cfg.seed + epoch), desc=f"epoch {epoch + 1}",
                          unit="batch", leave=False):  # fmt: skip
            loss, n = batch_loss(reader, batch)
            if n == 0:
                continue
            opt.zero_grad(set_to_none=True)
            (loss / n).backward()
            torch.nn.utils.clip_grad_norm_(reader.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            per_token = loss.item() / n
            running = per_token if math.isnan(running) else 0.98 * running + 0.02 * per_token
            if valid is not None and step % cfg.valid_interval == 0:
                checkpoint(dev_loss(reader, valid), running)
            if cfg.max_minutes is not None and time.monotonic() - start > 60 * cfg.max_minutes:
                out_of_time = True
                break
        how = "stopped (max_minutes) in" if out_of_time else "done:"
        logger.info("epoch %d %s step %d, train loss %.4f per token", epoch + 1, how, step, running)
        checkpoint(dev_loss(reader, valid) if valid is not None else running, running)
        if out_of_time:
            break
    return best
