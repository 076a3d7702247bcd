"""ScaledAdam: its defining update rule, learned scale, clipping, resumable state; every optimizer learns."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from valle.models import debug_config
from valle.train import ScaledAdam, TrainConfig
from valle.train.setup import build_optimizer


class Tiny(nn.Module):
    """y = gain * (W x + b): a matrix, a vector and a scalar (ScaledAdam's three update paths)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 4)
        self.gain = nn.Parameter(torch.tensor(0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gain * self.linear(x)


def regression_problem(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 8, generator=g)
    w = torch.randn(8, 4, generator=g)
    return x, x @ w + 0.3


def train_steps(model: nn.Module, opt: torch.optim.Optimizer, steps: int, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    losses = []
    for _ in range(steps):
        loss = ((model(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("name, lr", [("ScaledAdam", 0.05), ("AdamW", 0.02), ("Adam", 0.02)])
def test_each_optimizer_reduces_loss(name: str, lr: float) -> None:
    torch.manual_seed(0)
    model = Tiny()
    cfg = TrainConfig(model=debug_config(), optimizer_name=name, base_lr=lr)
    opt = build_optimizer(cfg, list(model.parameters()))
    x, y = regression_problem()
    losses = train_steps(model, opt, 300, x, y)
    assert losses[-1] < 0.1 * losses[0], (name, losses[0], losses[-1])


def test_first_step_moves_each_tensor_by_lr_times_its_rms() -> None:
    # Step 1: Adam's normalised gradient is sign(g), momentum contributes (1 - beta1), and the step is scaled
    # by the tensor's RMS - so every element moves by exactly lr * (1 - beta1) * rms(p).
    torch.manual_seed(0)
    lr, beta1 = 0.04, 0.9
    big = nn.Parameter(torch.randn(5, 7) * 10.0)
    small = nn.Parameter(torch.randn(5, 7) * 0.1)
    opt = ScaledAdam([big, small], lr=lr, betas=(beta1, 0.98))
    before = [big.detach().clone(), small.detach().clone()]
    (big.sum() * 3 + (small * torch.arange(35.0).view(5, 7)).sum()).backward()
    opt.step()
    for p, b in zip((big, small), before):
        rms = b.pow(2).mean().sqrt()
        step = (p.detach() - b)
        moved = step[p.grad != 0]
        torch.testing.assert_close(moved.abs(), torch.full_like(moved, lr * (1 - beta1) * float(rms)), rtol=1e-4, atol=0)
        assert torch.equal(torch.sign(moved), -torch.sign(p.grad[p.grad != 0]))


def test_scalar_takes_plain_adam_step_at_reduced_rate() -> None:
    lr, beta1, scalar_lr_scale = 0.05, 0.9, 0.1
    s = nn.Parameter(torch.tensor(2.0))
    opt = ScaledAdam([s], lr=lr, betas=(beta1, 0.98), scalar_lr_scale=scalar_lr_scale)
    (s * 4.0).backward()
    opt.step()
    torch.testing.assert_close(s.detach(), torch.tensor(2.0 - lr * scalar_lr_scale * (1 - beta1)))


def test_too_large_tensor_is_shrunk_towards_param_max_rms() -> None:
    p = nn.Parameter(torch.full((4, 4), 5.0))  # rms 5 > param_max_rms 3
    opt = ScaledAdam([p], lr=0.05, param_max_rms=3.0)
    for _ in range(40):
        p.grad = torch.zeros_like(p)  # no gradient signal: only the size constraint acts
        opt.step()
    assert float(p.detach().pow(2).mean().sqrt()) < 4.5


def test_clipping_uses_a_multiple_of_the_recent_median_norm() -> None:
    torch.manual_seed(0)
    p = nn.Parameter(torch.randn(6, 6))
    period = 5
    opt = ScaledAdam([p], lr=0.01, clipping_scale=2.0, clipping_update_period=period)
    group = opt.param_groups[0]
    for step in range(2 * period + 1):
        p.grad = torch.randn(6, 6) * 0.01
        opt.step()
    threshold = group["norm_threshold"]
    assert threshold is not None
    assert threshold == pytest.approx(2.0 * sorted(group["recent_norms"])[period // 2], rel=1e-6)
    assert group["num_clipped"] == 0  # ordinary gradients are below 2x their median
    p.grad = torch.randn(6, 6) * 100.0  # a spike
    opt.step()
    assert group["num_clipped"] == 1


def test_state_dict_round_trip_continues_identically() -> None:
    torch.manual_seed(0)
    x, y = regression_problem(1)
    model = Tiny()
    opt = ScaledAdam(model.parameters(), lr=0.05, clipping_scale=2.0, clipping_update_period=4)
    train_steps(model, opt, 9, x, y)
    twin = copy.deepcopy(model)
    twin_opt = ScaledAdam(twin.parameters(), lr=0.05, clipping_scale=2.0, clipping_update_period=4)
    twin_opt.load_state_dict(copy.deepcopy(opt.state_dict()))
    a = train_steps(model, opt, 6, x, y)
    b = train_steps(twin, twin_opt, 6, x, y)
    assert a == b
    for pa, pb in zip(model.parameters(), twin.parameters()):
        assert torch.equal(pa, pb)


def test_parameters_without_gradient_are_left_alone() -> None:
    used, unused = nn.Parameter(torch.ones(3, 3)), nn.Parameter(torch.ones(3, 3))
    opt = ScaledAdam([used, unused], lr=0.05)
    used.sum().backward()
    opt.step()
    assert not torch.equal(used.detach(), torch.ones(3, 3))
    assert torch.equal(unused.detach(), torch.ones(3, 3)) and not opt.state[unused]
