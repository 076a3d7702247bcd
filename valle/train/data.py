"""Data loaders for training: resumable at any batch (even with worker processes) and reproducible.

Two things the lhotse pieces do not give on their own:

* `ResumableSampler`: with `num_workers > 0` the DataLoader draws batches from the sampler ahead of the
  training loop, so `sampler.state_dict()` describes batches not yet trained on; resuming from it would skip
  them.  The wrapper records the sampler's state right after each batch it hands out, and the trainer saves
  the state that belongs to the last batch it actually *trained*.
* `SeededBatches`: `TtsDataset` draws prompt choices and crops (prefix mode 4) from its own RNG, which lives
  in whichever worker process got the batch; reseeding it from (seed, epoch, batch contents) makes every
  batch identical no matter which worker builds it or whether the run was resumed.
"""

from __future__ import annotations

import collections
import logging
import zlib
from collections.abc import Iterator
from typing import Any

import torch
from lhotse import CutSet

from valle.data.concat import PromptConcatenator
from valle.data.config import DataConfig
from valle.data.dataset import TtsDataset
from valle.data.prompts import PromptSelector
from valle.data.sampler import filter_duration, load_cuts, make_sampler
from valle.errors import CheckpointError

logger = logging.getLogger(__name__)

STATE_HISTORY = 256  # batches handed out but not yet trained; far above num_workers * prefetch_factor


class ResumableSampler:
    """Wraps a lhotse sampler; `state_after(n)` is its state once the first n batches of the epoch are out.

    Args:
        sampler: a lhotse `CutSampler` (from `valle.data.sampler.make_sampler`).
    """

    def __init__(self, sampler: Any) -> None:
        self.sampler = sampler
        self.epoch = 0
        self._start = 0  # batches of this epoch already consumed before this iteration (after a restore)
        self._states: collections.deque[tuple[int, dict[str, Any]]] = collections.deque(maxlen=STATE_HISTORY)

    def set_epoch(self, epoch: int) -> None:
        """Start epoch `epoch` (0-based, as lhotse counts) from its first batch."""
        self.epoch = epoch
        self._start = 0
        self._states.clear()
        self.sampler.set_epoch(epoch)

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue an epoch after the batches described by `state` (from `state_after`)."""
        self.epoch = int(state["epoch"])
        self._start = int(state["batches"])
        self._states.clear()
        lhotse_state = dict(state["lhotse"])
        try:
            self.sampler.load_state_dict(lhotse_state)
        except AssertionError as e:  # lhotse asserts on a changed world size or seed
            raise CheckpointError(
                f"cannot restore the data sampler ({e}); resume with the same --world-size, --seed and data flags"
            ) from None

    def __iter__(self) -> Iterator[CutSet]:
        index = self._start
        for batch in self.sampler:
            index += 1
            self._states.append((index, self.sampler.state_dict()))
            yield batch
        self._start = 0

    def state_after(self, batches: int) -> dict[str, Any]:
        """The sampler state to save once `batches` batches of the current epoch have been trained."""
        for index, state in reversed(self._states):
            if index == batches:
                return {"epoch": self.epoch, "batches": batches, "lhotse": state}
        raise RuntimeError(f"sampler state after batch {batches} was not recorded (have {[i for i, _ in self._states]})")


class SeededBatches(torch.utils.data.Dataset):
    """`TtsDataset` whose RNG is reseeded per batch from (seed, epoch, first cut id, batch size)."""

    def __init__(self, dataset: TtsDataset, seed: int) -> None:
        super().__init__()
        self.dataset = dataset
        self.seed = seed
        self.epoch = 0  # set by the trainer before each epoch's iterator is created (workers copy it then)

    def __getitem__(self, cuts: CutSet) -> dict[str, Any]:
        first = next(iter(cuts)).id
        self.dataset.rng.seed(zlib.crc32(f"{self.seed}/{self.epoch}/{first}/{len(cuts)}".encode()))
        return self.dataset[cuts]


def make_loader(dataset: torch.utils.data.Dataset, sampler: Any, num_workers: int, seed: int) -> torch.utils.data.DataLoader:
    """DataLoader where the sampler owns batching (`batch_size=None`).

    Its own `generator` keeps iterator creation from drawing on torch's global RNG, so dropout draws are
    the same whether or not a run was interrupted and restarted mid-epoch.
    """
    return torch.utils.data.DataLoader(
        dataset,
        sampler=sampler,
        batch_size=None,
        num_workers=num_workers,
        persistent_workers=False,
        generator=torch.Generator().manual_seed(seed),
    )


def build_train_data(cfg: DataConfig, collater: Any, with_prompts: bool, seed: int, world_size: int = 1,
                     rank: int = 0) -> tuple[ResumableSampler, SeededBatches, CutSet]:  # fmt: skip
    """Sampler, dataset and the (filtered, lazy) cuts of `cuts_train.jsonl.gz`, repeated `cfg.repeat_train` times.

    Repeated copies get lhotse's `_repeat{i}` id suffix (the sampler needs distinct ids); prompts are still
    chosen among the original cuts, so a copy never serves as its own neighbour.
    """
    cuts = load_cuts(cfg.manifest_dir / "cuts_train.jsonl.gz")
    prompts = PromptSelector(cuts, cfg.dataset, cfg.prompt_duration) if with_prompts else None
    concat = PromptConcatenator(cuts, cfg.concat_prompt_prob, cfg.prompt_duration) if cfg.concat_prompt_prob else None
    if cfg.repeat_train > 1:
        cuts = cuts.repeat(times=cfg.repeat_train, preserve_id=False)
    sampler = ResumableSampler(make_sampler(cuts, cfg, train=True, world_size=world_size, rank=rank))
    dataset = TtsDataset(collater, prompts=prompts, seed=seed, concat=concat)
    return sampler, SeededBatches(dataset, seed), filter_duration(cuts, cfg)


def build_valid_loader(cfg: DataConfig, collater: Any, with_prompts: bool, seed: int, world_size: int = 1,
                       rank: int = 0) -> torch.utils.data.DataLoader | None:  # fmt: skip
    """Loader over this rank's share of `cuts_dev.jsonl.gz` (every cut is used once across ranks).

    Each rank takes every world_size-th cut and iterates it alone, so no cut is dropped and validation
    needs no collective until its totals are summed.  None when there is no dev manifest.
    """
    path = cfg.manifest_dir / "cuts_dev.jsonl.gz"
    if not path.is_file():
        logger.warning("no %s: validation is skipped (best-valid-loss.pt is not written)", path)
        return None
    all_cuts = CutSet.from_cuts(list(filter_duration(load_cuts(path), cfg)))
    mine = CutSet.from_cuts([c for i, c in enumerate(all_cuts) if i % world_size == rank])
    prompts = PromptSelector(all_cuts, cfg.dataset, cfg.prompt_duration) if with_prompts else None
    sampler = make_sampler(mine, cfg, train=False)
    dataset = SeededBatches(TtsDataset(collater, prompts=prompts, seed=seed), seed)
    return make_loader(dataset, sampler, num_workers=0, seed=seed)


def total_duration(cuts: CutSet) -> float:
    """Seconds of audio in `cuts` (one pass over the manifest; used for the progress ETA)."""
    return float(sum(c.duration for c in cuts))
