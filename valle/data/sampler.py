"""Batch samplers over tokenized cuts: lhotse's DynamicBucketingSampler, filters, resumable state."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lhotse import CutSet, load_manifest_lazy
from lhotse.dataset import DynamicBucketingSampler, SimpleCutSampler

from valle.data.config import DataConfig
from valle.errors import DataError, require_file

logger = logging.getLogger(__name__)


def load_cuts(path: str | Path) -> CutSet:
    """Open a cut manifest lazily, with a clear error when it is missing."""
    path = require_file(path, "cut manifest", "run 'valle tokenize' (or the recipe's prepare.sh) first")
    return load_manifest_lazy(path)


@dataclass(frozen=True)
class DurationFilter:
    """Picklable predicate (a lambda makes lhotse warn and cannot go to DataLoader workers)."""

    low: float
    high: float

    def __call__(self, cut: Any) -> bool:
        return self.low <= cut.duration <= self.high


def filter_duration(cuts: CutSet, cfg: DataConfig) -> CutSet:
    """Keep cuts with filter_min_duration <= duration <= filter_max_duration (lazy)."""
    return cuts.filter(DurationFilter(cfg.filter_min_duration, cfg.filter_max_duration))


def make_sampler(cuts: CutSet, cfg: DataConfig, *, train: bool = True, world_size: int = 1, rank: int = 0) -> Any:
    """The training (or validation) sampler.

    Training uses `DynamicBucketingSampler` with `cfg.num_buckets` buckets (actually passed, unlike the
    reference), seeded shuffling and drop_last; validation uses an unshuffled `SimpleCutSampler`.  Both expose
    `state_dict()/load_state_dict()`, which the trainer saves for mid-epoch resume, and `set_epoch(n)`.
    """
    cuts = filter_duration(cuts, cfg)
    if train and cfg.bucketing_sampler:
        # lhotse refuses more buckets than cuts (an assertion); a tiny corpus simply gets fewer buckets
        have = sum(1 for _ in itertools.islice(cuts, cfg.num_buckets))
        if have == 0:
            raise DataError(
                f"no training cuts last between {cfg.filter_min_duration:g} and {cfg.filter_max_duration:g} s; "
                "check the manifests or the --filter-min/max-duration flags"
            )
        if have < cfg.num_buckets:
            logger.warning("only %d training cuts: using %d duration buckets instead of %d", have, have, cfg.num_buckets)
        return DynamicBucketingSampler(
            cuts,
            max_duration=cfg.max_duration,
            num_buckets=min(have, cfg.num_buckets),
            shuffle=cfg.shuffle,
            drop_last=cfg.drop_last,
            seed=cfg.seed,
            world_size=world_size,
            rank=rank,
        )
    return SimpleCutSampler(
        cuts,
        max_duration=cfg.max_duration,
        shuffle=cfg.shuffle and train,
        drop_last=cfg.drop_last and train,
        seed=cfg.seed,
        world_size=world_size,
        rank=rank,
    )
