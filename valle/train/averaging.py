"""`--average-period`: a running average of the weights since the start of training (icefall's model_avg).

Every `period` batches: `avg = avg * (1 - period / step) + current * (period / step)`, so after N updates
`avg` is the mean of the N snapshots.  Kept in float64 (the reference's choice; the per-update weight
`period / step` becomes tiny late in training) on the CPU, and only by rank 0, which saves it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def init_average(model: nn.Module) -> dict[str, Tensor]:
    """A float64 CPU copy of the model's floating-point state (the average of one snapshot)."""
    return {k: v.detach().to("cpu", torch.float64).clone() for k, v in model.state_dict().items() if v.is_floating_point()}


@torch.no_grad()
def update_average(avg: dict[str, Tensor], model: nn.Module, step: int, period: int) -> None:
    """Fold the current weights into `avg` at batch `step` (called when step % period == 0)."""
    weight = period / step
    for k, v in model.state_dict().items():
        if k in avg:
            avg[k].mul_(1.0 - weight).add_(v.detach().to("cpu", torch.float64), alpha=weight)


def averaged_state_dict(avg: dict[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
    """The model's state dict with averaged floating-point entries, in each entry's own dtype."""
    state = model.state_dict()
    return {k: (avg[k].to(v.dtype) if k in avg else v) for k, v in state.items()}
