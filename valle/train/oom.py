"""`--oom-check`: run the epoch's most memory-hungry batches first, so a too-large --max-duration fails in
the first minute with advice instead of hours later (the reference's `scan_pessimistic_batches_for_oom`).

lhotse's `find_pessimistic_batches` scans one epoch of a separate sampler (cut metadata only) for the
longest cut, the largest total duration and the most cuts; each distinct batch gets a forward and backward
pass on the unwrapped model before DDP is set up, so the check involves no collectives.  Gradients are
discarded; the training sampler's position is untouched.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from valle.data.config import DataConfig
from valle.data.sampler import load_cuts, make_sampler
from valle.errors import InvalidInputError

logger = logging.getLogger(__name__)


def run_pessimistic_batches(trainer: Any, data_cfg: DataConfig) -> int:
    """Forward + backward on each pessimistic batch; returns how many distinct batches were run.

    Raises:
        InvalidInputError: the device ran out of memory (names the criterion and what to lower).
    """
    from lhotse.dataset import find_pessimistic_batches

    env = trainer.env
    cuts = load_cuts(data_cfg.manifest_dir / "cuts_train.jsonl.gz")
    sampler = make_sampler(cuts, data_cfg, train=True, world_size=env.world_size, rank=env.rank)
    batches, values = find_pessimistic_batches(sampler)
    seen: set[tuple[str, ...]] = set()
    model = trainer.raw_model
    model.train()
    for criterion, batch_cuts in batches.items():
        key = tuple(sorted(c.id for c in batch_cuts))
        if key in seen:
            continue
        seen.add(key)
        batch = trainer.dataset[batch_cuts]
        try:
            with trainer.autocast():
                out = model(**trainer.model_inputs(batch), generator=torch.Generator().manual_seed(0))
            out.loss.backward()
        except (torch.OutOfMemoryError, MemoryError, RuntimeError) as e:
            if not isinstance(e, (torch.OutOfMemoryError, MemoryError)) and "allocate" not in str(e):
                raise
            raise InvalidInputError(
                f"out of memory on the most demanding batch ({criterion} = {values[criterion]:.1f}); "
                f"lower --max-duration (now {data_cfg.max_duration})"
            ) from None
        finally:
            model.zero_grad(set_to_none=True)
    logger.info("oom-check: %d pessimistic batch(es) ran fine", len(seen))
    return len(seen)
