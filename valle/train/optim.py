"""ScaledAdam: the optimizer lifeiteng/vall-e trains with (from icefall, by Daniel Povey), written anew.

Semantics (what the reference's `valle/modules/optim.py` does; this file implements them independently):

* Each non-scalar parameter tensor is treated as `p = direction * scale`.  Its Adam step is multiplied by
  the tensor's current RMS, so every tensor moves by a fixed *fraction* of its own size per step, whatever
  its magnitude; that is why ScaledAdam takes learning rates around 0.03-0.05 (not 1e-4).
* The scale itself is learned (every `size_update_period` steps, from the accumulated `sum(p * grad)`),
  in log space, with its own Adam-like normaliser, and kept inside `[param_min_rms, param_max_rms]`.
* Scalars get plain Adam at `lr * scalar_lr_scale`, clamped to `[-scalar_max, scalar_max]`.
* Momentum is kept on the *update* ("delta"), not on the gradient; there is no first-moment bias
  correction (slower first steps help stability).
* Clipping (when `clipping_scale` is set): the RMS-weighted gradient norm of the whole group is clipped to
  `clipping_scale` x the median norm of the previous `clipping_update_period` steps (no clipping before
  the first full period).  Not a fixed threshold, so it adapts to the model and the loss scale.

Differences from the reference, on purpose: parameters are stepped one tensor at a time (the reference
stacks same-shape tensors for GPU speed; the arithmetic per tensor is the same); a parameter without a
gradient this step is skipped like in `torch.optim.Adam` (the reference steps it with a zero gradient,
so momentum keeps moving it); and no `parameters_names` argument is required.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

logger = logging.getLogger(__name__)


class ScaledAdam(Optimizer):
    """Adam whose update is proportional to each parameter tensor's RMS, with a learned scale.

    Args:
        params: parameters or parameter groups, as for any `torch.optim.Optimizer`.
        lr: learning rate (the reference trains VALL-E with 0.05 under the Eden schedule).
        clipping_scale: clip the RMS-weighted gradient norm to this many times its recent median;
            None disables clipping.  The reference trainer uses 2.0.
        betas: (momentum of the update, decay of the squared-gradient average).
        scalar_lr_scale: learning-rate factor for scalars and for the learned log-scales.
        eps: added to the Adam denominators.
        param_min_rms: a tensor whose RMS is below this is not shrunk further (and steps as if it were this).
        param_max_rms: a tensor whose RMS is above this is shrunk.
        scalar_max: scalars are clamped to [-scalar_max, scalar_max].
        size_update_period: steps between updates of the learned scale (and of the cached RMS).
        clipping_update_period: steps between re-estimates of the clipping threshold.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 3e-2,
        clipping_scale: float | None = None,
        betas: tuple[float, float] = (0.9, 0.98),
        scalar_lr_scale: float = 0.1,
        eps: float = 1e-8,
        param_min_rms: float = 1e-5,
        param_max_rms: float = 3.0,
        scalar_max: float = 10.0,
        size_update_period: int = 4,
        clipping_update_period: int = 100,
    ) -> None:
        if lr < 0:
            raise ValueError(f"ScaledAdam lr must be >= 0, got {lr}")
        if not 0.0 <= betas[0] < 1.0 or not 0.0 < betas[1] < 1.0:
            raise ValueError(f"ScaledAdam betas must lie in [0, 1), got {betas}")
        if clipping_scale is not None and clipping_scale <= 0:
            raise ValueError(f"ScaledAdam clipping_scale must be > 0 or None, got {clipping_scale}")
        defaults = {
            "lr": lr,
            "clipping_scale": clipping_scale,
            "betas": betas,
            "scalar_lr_scale": scalar_lr_scale,
            "eps": eps,
            "param_min_rms": param_min_rms,
            "param_max_rms": param_max_rms,
            "scalar_max": scalar_max,
            "size_update_period": size_update_period,
            "clipping_update_period": clipping_update_period,
        }
        super().__init__(params, defaults)
        for group in self.param_groups:
            self._init_clipping(group)

    @staticmethod
    def _init_clipping(group: dict[str, Any]) -> None:
        # Clipping statistics live in the group (plain Python numbers), so `state_dict()` saves them and
        # a resumed run clips exactly as the uninterrupted one would.
        group.setdefault("clip_step", 0)  # steps seen by the clipping logic
        group.setdefault("recent_norms", [])  # ring buffer of the last `clipping_update_period` norms
        group.setdefault("norm_threshold", None)  # current clipping threshold (None before the first period)
        group.setdefault("num_clipped", 0)  # steps clipped since the threshold was last estimated

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        self._init_clipping(self.param_groups[-1])

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """Update every parameter that has a gradient; returns the closure's loss if one is given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            for p in params:
                if p.grad is not None and p.grad.is_sparse:
                    raise RuntimeError("ScaledAdam does not support sparse gradients")
                if not self.state[p]:
                    self._init_state(group, p, self.state[p])
            scale = self._clipping_factor(group, params)
            for p in params:
                self._step_param(group, p, self.state[p], scale)
        return loss

    # ------------------------------------------------------------------ state and clipping
    @staticmethod
    def _init_state(group: dict[str, Any], p: Tensor, state: dict[str, Any]) -> None:
        state["step"] = 0
        state["delta"] = torch.zeros_like(p)  # momentum of the whole update (Adam step + scale change)
        state["exp_avg_sq"] = torch.zeros_like(p)
        if p.numel() > 1:
            state["param_rms"] = _rms(p)  # refreshed every size_update_period steps
            state["scale_exp_avg_sq"] = torch.zeros_like(state["param_rms"])
            state["scale_grads"] = torch.zeros(group["size_update_period"], dtype=p.dtype, device=p.device)

    def _clipping_factor(self, group: dict[str, Any], params: list[Tensor]) -> float:
        """Factor (<= 1) by which this step's gradients are scaled; also updates the clipping statistics."""
        clipping_scale = group["clipping_scale"]
        step = group["clip_step"]
        group["clip_step"] = step + 1
        if clipping_scale is None or step == 0:
            return 1.0
        sumsq = torch.zeros((), dtype=torch.float32, device=params[0].device)
        for p in params:
            assert p.grad is not None
            g = p.grad.float()
            if p.numel() > 1:
                g = g * self.state[p]["param_rms"].float()  # the norm of the update's scale, not of the raw grad
            sumsq += (g * g).sum()
        norm = math.sqrt(float(sumsq))
        period = group["clipping_update_period"]
        norms: list[float] = group["recent_norms"]
        if len(norms) < period:
            norms.append(norm)
        else:
            norms[step % period] = norm
        if step % period == 0:
            median = sorted(norms)[len(norms) // 2]
            if group["norm_threshold"] is not None:
                logger.debug(
                    "ScaledAdam: grad-norm median %.3e, threshold %.3e, clipped %.1f%% of the last %d steps",
                    median, clipping_scale * median, 100.0 * group["num_clipped"] / period, period,
                )  # fmt: skip
            group["norm_threshold"] = clipping_scale * median
            group["num_clipped"] = 0
        if step < period or group["norm_threshold"] is None:
            return 1.0  # no norm history yet to clip against
        factor = min(1.0, group["norm_threshold"] / (norm + 1e-20))
        if factor < 1.0:
            group["num_clipped"] += 1
        if factor < 0.1:
            logger.warning("ScaledAdam: scaling gradients by %.3g (threshold %.3e)", factor, group["norm_threshold"])
        return factor

    # ------------------------------------------------------------------ the update
    def _step_param(self, group: dict[str, Any], p: Tensor, state: dict[str, Any], clip: float) -> None:
        assert p.grad is not None
        grad: Tensor = p.grad if clip == 1.0 else p.grad * clip
        beta1 = group["betas"][0]
        step = state["step"]
        delta = state["delta"]
        delta.mul_(beta1)
        if p.numel() == 1:
            self._scalar_update(group, p, grad, state)
        else:
            period = group["size_update_period"]
            state["scale_grads"][step % period] = (p * grad).sum()
            if step % period == period - 1:
                state["param_rms"].copy_(_rms(p))
                if step > 0:
                    self._scale_update(group, p, state)
            self._tensor_update(group, grad, state)
        p.add_(delta)
        state["step"] = step + 1

    @staticmethod
    def _scale_update(group: dict[str, Any], p: Tensor, state: dict[str, Any]) -> None:
        """Gradient step on log(scale) of `p`, from the last `size_update_period` values of sum(p * grad)."""
        beta1, beta2 = group["betas"]
        size_lr = group["lr"] * group["scalar_lr_scale"]
        scale_grads = state["scale_grads"]
        period = scale_grads.shape[0]
        beta2_period = beta2**period  # one scale update per `period` steps decays that much faster
        avg_sq = state["scale_exp_avg_sq"]
        avg_sq.mul_(beta2_period).add_((scale_grads**2).mean(), alpha=1 - beta2_period)
        updates_so_far = (state["step"] + 1) // period
        bias_correction2 = 1 - beta2_period**updates_so_far
        scale_step = -size_lr * math.sqrt(bias_correction2) * scale_grads.sum() / (avg_sq.sqrt() + group["eps"])
        rms = state["param_rms"]
        if bool(rms < group["param_min_rms"]):
            scale_step = torch.zeros_like(scale_step)  # already tiny: never shrink further
        elif bool(rms > group["param_max_rms"]):
            scale_step = torch.full_like(scale_step, -size_lr * period)  # too large: shrink
        state["delta"].add_(p * scale_step, alpha=1 - beta1)

    @staticmethod
    def _tensor_update(group: dict[str, Any], grad: Tensor, state: dict[str, Any]) -> None:
        """Adam direction, scaled by the tensor's RMS, added into the momentum `delta`."""
        beta1, beta2 = group["betas"]
        exp_avg_sq = state["exp_avg_sq"]
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias_correction2 = 1 - beta2 ** (state["step"] + 1)
        denom = (exp_avg_sq / bias_correction2).sqrt() if bias_correction2 < 0.99 else exp_avg_sq.sqrt()
        denom.add_(group["eps"])
        alpha = -group["lr"] * (1 - beta1) * state["param_rms"].clamp(min=group["param_min_rms"])
        state["delta"].add_(grad / denom * alpha)

    @staticmethod
    def _scalar_update(group: dict[str, Any], p: Tensor, grad: Tensor, state: dict[str, Any]) -> None:
        """Plain Adam (no first-moment correction) at a reduced rate, for one-element parameters."""
        beta1, beta2 = group["betas"]
        exp_avg_sq = state["exp_avg_sq"]
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias_correction2 = 1 - beta2 ** (state["step"] + 1)
        denom = (exp_avg_sq / bias_correction2).sqrt() + group["eps"]
        state["delta"].add_(grad / denom, alpha=-group["lr"] * group["scalar_lr_scale"] * (1 - beta1))
        p.clamp_(min=-group["scalar_max"], max=group["scalar_max"])


def _rms(p: Tensor) -> Tensor:
    """Root-mean-square of a whole tensor, as a 0-dim tensor."""
    return p.detach().pow(2).mean().sqrt()
