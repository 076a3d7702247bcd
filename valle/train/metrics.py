"""Loss and accuracy bookkeeping: sums over batches (and ranks), turned into per-token means at report time.

Summing first and dividing last makes a number independent of how it was split into batches and ranks:
the validation loss of 2 processes equals that of 1 process over the same cuts.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, fields
from typing import Any

import torch

from valle.train.distributed import DistEnv, all_reduce_sum


@dataclass
class Tally:
    """Running sums of one period (a log interval, an epoch, or a validation pass)."""

    ar_loss: float = 0.0  # summed AR cross-entropy
    ar_tokens: float = 0.0
    ar_top10: float = 0.0
    nar_loss: float = 0.0  # summed NAR cross-entropy
    nar_tokens: float = 0.0
    nar_top10: float = 0.0
    frames: float = 0.0  # audio frames (sum of y_lens)
    utterances: float = 0.0
    batches: float = 0.0

    def add(self, out: Any, frames: int, utterances: int) -> None:
        """Add one batch's `valle.models.LossOutput`."""
        if out.ar_loss is not None:
            self.ar_loss += float(out.ar_loss)
            self.ar_tokens += out.ar_tokens
            self.ar_top10 += out.ar_top10
        if out.nar_loss is not None:
            self.nar_loss += float(out.nar_loss)
            self.nar_tokens += out.nar_tokens
            self.nar_top10 += out.nar_top10
        self.frames += frames
        self.utterances += utterances
        self.batches += 1

    def reduced(self, env: DistEnv, device: torch.device) -> Tally:
        """The sums over all ranks (every rank must call this at the same point)."""
        names = [f.name for f in fields(self)]
        values = torch.tensor([getattr(self, n) for n in names], dtype=torch.float64, device=device)
        summed = all_reduce_sum(values, env).tolist()
        return Tally(**dict(zip(names, summed)))

    # ------------------------------------------------------------------ derived numbers
    @property
    def ar_mean(self) -> float | None:
        return self.ar_loss / self.ar_tokens if self.ar_tokens else None

    @property
    def nar_mean(self) -> float | None:
        return self.nar_loss / self.nar_tokens if self.nar_tokens else None

    @property
    def loss(self) -> float:
        """Mean of the per-token AR and NAR losses that were trained (what the model's `loss` averages)."""
        parts = [m for m in (self.ar_mean, self.nar_mean) if m is not None]
        return sum(parts) / len(parts) if parts else math.nan

    def scalars(self) -> dict[str, float]:
        """Named numbers for logs and tensorboard (halves that did not run are left out)."""
        out = {"loss": self.loss}
        if self.ar_tokens:
            out["ar_loss"] = self.ar_loss / self.ar_tokens
            out["ar_top10_acc"] = self.ar_top10 / self.ar_tokens
        if self.nar_tokens:
            out["nar_loss"] = self.nar_loss / self.nar_tokens
            out["nar_top10_acc"] = self.nar_top10 / self.nar_tokens
        return out

    def describe(self) -> str:
        s = self.scalars()
        text = f"loss {s['loss']:.4f}"
        if "ar_loss" in s:
            text += f", ar {s['ar_loss']:.4f} (top10 {s['ar_top10_acc']:.3f})"
        if "nar_loss" in s:
            text += f", nar {s['nar_loss']:.4f} (top10 {s['nar_top10_acc']:.3f})"
        return text


class Eta:
    """Time left, from this run's own speed (batches/s and audio seconds/s since it started)."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.batches = 0
        self.audio_seconds = 0.0

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def add(self, audio_seconds: float) -> None:
        self.batches += 1
        self.audio_seconds += audio_seconds

    def seconds_left(self, audio_left: float, steps_left: int | None, minutes_budget: float | None) -> float | None:
        """The nearest of: the remaining audio (epochs), the remaining --max-steps, the --max-minutes budget."""
        if not self.batches:
            return None
        elapsed = self.elapsed()
        candidates = []
        if self.audio_seconds > 0 and audio_left > 0:
            candidates.append(audio_left * elapsed / self.audio_seconds)
        if steps_left is not None:
            candidates.append(steps_left * elapsed / self.batches)
        if minutes_budget is not None:
            candidates.append(60 * minutes_budget - elapsed)
        return max(0.0, min(candidates)) if candidates else None


def format_eta(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"
