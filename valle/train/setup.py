"""What the training loop is built from: corpus metadata, the model's sizes, stage parameters, optimizer.

Kept apart from the loop (`valle.train.trainer`) so the loop reads top to bottom without construction
details.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer

from valle.errors import CheckpointError, DataError, InvalidInputError, MissingFileError
from valle.models.config import ModelConfig, TrainStage
from valle.train.config import OptimizerName, TrainConfig
from valle.train.optim import ScaledAdam
from valle.train.schedule import LrSchedule

logger = logging.getLogger(__name__)

# Fields that may differ between a checkpoint and the current flags without changing any weight's meaning.
SOFT_MODEL_FIELDS = ("prefix_mode", "dropout", "attention_dropout")


@dataclass
class CorpusInfo:
    """The corpus-side facts a checkpoint must carry so that inference needs no side files."""

    symbols: list[str]  # text symbol table (k2symbols entries, <eps> included), see valle.text.SymbolTable
    tokenizer: dict[str, Any] | None  # text_tokenizer.json: the text front-end settings used by `valle tokenize`
    codec: dict[str, Any] | None  # codec.json: identity of the codec the codes came from


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DataError(f"{path} is not valid JSON ({e}); rerun 'valle tokenize'") from None


def read_corpus_info(manifest_dir: Path, text_tokens: Path) -> CorpusInfo:
    """Symbols, tokenizer settings and codec identity of a tokenized corpus (written by `valle tokenize`)."""
    from valle.text import SymbolTable

    if not (manifest_dir / "cuts_train.jsonl.gz").is_file():
        raise MissingFileError(
            f"{manifest_dir / 'cuts_train.jsonl.gz'} not found; point --manifest-dir at the output of "
            "'valle tokenize' + 'valle combine-cuts' (or a recipe's prepare.sh)"
        )
    table = SymbolTable.from_file(text_tokens)
    tokenizer = _read_json(manifest_dir / "text_tokenizer.json")
    codec = _read_json(manifest_dir / "codec.json")
    for name, value in (("text_tokenizer.json", tokenizer), ("codec.json", codec)):
        if value is None:
            logger.warning("%s not found in %s: checkpoints will lack it and inference will need it passed explicitly",
                           name, manifest_dir)  # fmt: skip
    return CorpusInfo(symbols=table.symbols, tokenizer=tokenizer, codec=codec)


def sized_model_config(cfg: ModelConfig, vocab_size: int, codec: dict[str, Any] | None) -> ModelConfig:
    """`cfg` with its text/audio vocabulary sizes checked against (and grown to) the corpus.

    The text embedding keeps the reference's 512 rows unless the corpus needs more; the audio vocabulary
    is the codec's codebook size, and `num_quantizers` may not exceed its number of codebooks.
    """
    changes: dict[str, Any] = {}
    if vocab_size > cfg.num_text_tokens:
        logger.info("text vocabulary has %d entries; growing num_text_tokens from %d", vocab_size, cfg.num_text_tokens)
        changes["num_text_tokens"] = vocab_size
    if codec is not None:
        size, books = int(codec.get("codebook_size", cfg.num_audio_tokens)), int(codec.get("num_codebooks", 8))
        if size != cfg.num_audio_tokens:
            changes["num_audio_tokens"] = size
        if cfg.num_quantizers > books:
            raise InvalidInputError(f"--num-quantizers {cfg.num_quantizers} exceeds the codec's {books} codebooks")
    return cfg.replace(**changes) if changes else cfg


def check_model_config(saved: dict[str, Any], current: ModelConfig, path: Path) -> None:
    """Refuse a checkpoint whose architecture differs from the current flags (warn on harmless changes)."""
    mine = current.to_dict()
    diff = {k: (saved.get(k), v) for k, v in mine.items() if k in saved and saved[k] != v}
    hard = {k: d for k, d in diff.items() if k not in SOFT_MODEL_FIELDS}
    if hard:
        listed = ", ".join(f"{k} (checkpoint {a!r}, flags {b!r})" for k, (a, b) in sorted(hard.items()))
        raise CheckpointError(f"{path} was trained with other model flags: {listed}; pass the same model flags")
    for k, (a, b) in diff.items():
        logger.warning("model flag %s changes from %r (checkpoint) to %r", k, a, b)


def stage_parameters(model: nn.Module, stage: TrainStage) -> list[nn.Parameter]:
    """Parameters trained in `stage` (AR: `ar_*`, NAR: `nar_*`, BOTH: all); the others are frozen.

    Freezing (`requires_grad=False`) rather than only leaving them out of the optimizer keeps DDP from
    waiting for their gradients, and keeps the frozen half bit-identical.
    """
    prefix = {TrainStage.AR: "ar_", TrainStage.NAR: "nar_"}.get(stage)
    chosen = []
    for name, p in model.named_parameters():
        train = prefix is None or name.startswith(prefix) or not name.startswith(("ar_", "nar_"))
        p.requires_grad_(train)
        if train:
            chosen.append(p)
    return chosen


def build_optimizer(cfg: TrainConfig, params: list[nn.Parameter]) -> Optimizer:
    """The reference trainer's optimizers, with its hyper-parameters."""
    if cfg.optimizer_name == OptimizerName.SCALED_ADAM:
        return ScaledAdam(params, lr=cfg.base_lr, betas=(0.9, 0.95), clipping_scale=2.0, clipping_update_period=1000)
    if cfg.optimizer_name == OptimizerName.ADAMW:
        return torch.optim.AdamW(params, lr=cfg.base_lr, betas=(0.9, 0.95), weight_decay=1e-2, eps=1e-8)
    return torch.optim.Adam(params, lr=cfg.base_lr, betas=(0.9, 0.95), eps=1e-8)


def build_schedule(cfg: TrainConfig, optimizer: Optimizer, total_steps: int | None) -> LrSchedule:
    return LrSchedule(optimizer, cfg.scheduler_name, cfg.warmup_steps, model_dim=cfg.model.decoder_dim,
                      total_steps=total_steps)  # fmt: skip


def count_batches(sampler: Any) -> int:
    """Batches in one epoch of a (fresh) lhotse sampler - one pass over the cut metadata, no audio."""
    return sum(1 for _ in sampler)
