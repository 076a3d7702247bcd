"""Learning-rate schedules as pure functions of (step, epoch), and the small object that applies them.

* Eden (icefall; the reference's default): `lr = base * ((s^2 + S^2) / S^2)^-1/4 * ((e^2 + E^2) / E^2)^-1/4`
  times a warmup factor rising linearly from 0.5 to 1 over `warmup_steps`, with the reference's constants
  S = 5000 batches and E = 4 epochs.  Flat at first, then decays like s^-1/2 and e^-1/2.
* Noam ("Attention is all you need"): `base * D^-1/2 * min(s^-1/2, s * warmup^-3/2)`, D = decoder width.
* Cosine: linear warmup from 0 to `base` over `warmup_steps`, then half a cosine down to `base / 10` at
  `total_steps` (flat after).  The reference's "cosine" passes `warmup_steps` as the optimizer and the
  optimizer as `T_max` (and `eta_min=base_lr`, i.e. a constant rate), so it never worked there.

The step is the number of optimizer updates done so far (counted from 0); the epoch is the 0-based epoch
index, as the reference passes `epoch - 1` to Eden.  A schedule keeps no hidden state: resuming only needs
the step and the epoch, which the trainer stores anyway.
"""

from __future__ import annotations

import enum
import math
from typing import Any

from torch.optim import Optimizer

from valle.errors import InvalidInputError

EDEN_LR_BATCHES = 5000.0  # the reference's `Eden(optimizer, 5000, 4, ...)`
EDEN_LR_EPOCHS = 4.0
COSINE_FLOOR = 0.1  # the cosine ends at base_lr * COSINE_FLOOR (as nanoGPT's min_lr = lr / 10)


class SchedulerName(str, enum.Enum):
    """The `--scheduler-name` choices (matched case-insensitively, as the reference does)."""

    EDEN = "Eden"
    NOAM = "Noam"
    COSINE = "Cosine"

    @classmethod
    def parse(cls, name: str) -> SchedulerName:
        for member in cls:
            if member.value.lower() == str(name).lower():
                return member
        raise InvalidInputError(f"--scheduler-name must be one of Eden, Noam, Cosine, got {name!r}")


def eden_factor(step: int, epoch: int, warmup_steps: int, lr_batches: float = EDEN_LR_BATCHES,
                lr_epochs: float = EDEN_LR_EPOCHS) -> float:  # fmt: skip
    """Eden's multiplier of the base learning rate (see module docstring)."""
    decay = ((step**2 + lr_batches**2) / lr_batches**2) ** -0.25 * ((epoch**2 + lr_epochs**2) / lr_epochs**2) ** -0.25
    warmup = 1.0 if step >= warmup_steps else 0.5 + 0.5 * step / max(1, warmup_steps)
    return decay * warmup


def noam_factor(step: int, warmup_steps: int, model_dim: int) -> float:
    """Noam's multiplier of the base learning rate; the step counts from 1 as in the reference."""
    s = step + 1
    w = max(1, warmup_steps)
    return model_dim**-0.5 * min(s**-0.5, s * w**-1.5)


def cosine_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """Linear warmup to 1, then a half cosine down to COSINE_FLOOR at `total_steps`."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return COSINE_FLOOR + (1 - COSINE_FLOOR) * 0.5 * (1 + math.cos(math.pi * progress))


class LrSchedule:
    """Writes `base_lr * factor(step, epoch)` into every parameter group of an optimizer.

    Args:
        optimizer: the optimizer whose groups' `lr` is set (each group's initial lr is its base).
        name: which schedule.
        warmup_steps: the `--warmup-steps` flag.
        model_dim: decoder width D (Noam only).
        total_steps: where the cosine reaches its floor (Cosine only; required there).
    """

    def __init__(self, optimizer: Optimizer, name: SchedulerName | str, warmup_steps: int,
                 model_dim: int = 1024, total_steps: int | None = None) -> None:  # fmt: skip
        self.optimizer = optimizer
        self.name = SchedulerName.parse(name) if not isinstance(name, SchedulerName) else name
        if warmup_steps < 0:
            raise InvalidInputError(f"--warmup-steps must be >= 0, got {warmup_steps}")
        if self.name == SchedulerName.COSINE and not total_steps:
            raise InvalidInputError("the Cosine schedule needs a total number of steps; pass --max-steps")
        self.warmup_steps = warmup_steps
        self.model_dim = model_dim
        self.total_steps = total_steps or 0
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.step_count = 0
        self.epoch = 0
        self.set(0, 0)

    def factor(self, step: int, epoch: int) -> float:
        if self.name == SchedulerName.EDEN:
            return eden_factor(step, epoch, self.warmup_steps)
        if self.name == SchedulerName.NOAM:
            return noam_factor(step, self.warmup_steps, self.model_dim)
        return cosine_factor(step, self.warmup_steps, self.total_steps)

    def set(self, step: int, epoch: int) -> None:
        """Apply the rate for optimizer step `step` in (0-based) epoch `epoch`."""
        self.step_count, self.epoch = step, epoch
        f = self.factor(step, epoch)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * f

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name.value, "step": self.step_count, "epoch": self.epoch, "base_lrs": list(self.base_lrs),
                "warmup_steps": self.warmup_steps, "total_steps": self.total_steps}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore base rates and position (the schedule's own settings come from the current flags)."""
        self.base_lrs = list(state["base_lrs"])
        self.set(int(state["step"]), int(state["epoch"]))
