"""Learning-rate schedules: the formulas' defining properties, warmup, and resumable application."""

from __future__ import annotations

import itertools

import pytest
import torch

from valle.errors import InvalidInputError
from valle.train.schedule import (
    COSINE_FLOOR,
    EDEN_LR_BATCHES,
    LrSchedule,
    SchedulerName,
    cosine_factor,
    eden_factor,
    noam_factor,  # fmt: skip
)


def test_eden_warmup_then_power_decay() -> None:
    w = 200
    assert eden_factor(0, 0, w) == pytest.approx(0.5)  # warmup starts at half the rate
    assert eden_factor(w // 2, 0, w) == pytest.approx(0.75 * ((w / 2) ** 2 / EDEN_LR_BATCHES**2 + 1) ** -0.25)
    after = [eden_factor(s, 0, w) for s in range(w, 50_000, 997)]
    assert all(a > b for a, b in itertools.pairwise(after))
    # Far past lr_batches the decay is ~ (step / lr_batches)^-1/2.
    assert eden_factor(10**7, 0, w) == pytest.approx((10**7 / EDEN_LR_BATCHES) ** -0.5, rel=1e-3)
    # The epoch term: epoch == lr_epochs (4) halves the fourth power, i.e. multiplies by 2^-1/4.
    assert eden_factor(1000, 4, w) == pytest.approx(eden_factor(1000, 0, w) * 2**-0.25)


def test_noam_peaks_at_warmup() -> None:
    w, d = 50, 256
    values = [noam_factor(s, w, d) for s in range(200)]
    assert max(range(200), key=values.__getitem__) == w - 1  # step counts from 0; Noam's from 1
    assert values[w - 1] == pytest.approx(d**-0.5 * w**-0.5)


def test_cosine_warms_up_then_decays_to_its_floor() -> None:
    w, total = 10, 110
    assert cosine_factor(0, w, total) == pytest.approx(1 / w)
    assert cosine_factor(w - 1, w, total) == pytest.approx(1.0)
    decay = [cosine_factor(s, w, total) for s in range(w, total + 1)]
    assert all(a >= b for a, b in itertools.pairwise(decay))
    assert decay[0] == pytest.approx(1.0) and decay[-1] == pytest.approx(COSINE_FLOOR)
    assert cosine_factor(w + (total - w) // 2, w, total) == pytest.approx((1 + COSINE_FLOOR) / 2)
    assert cosine_factor(10 * total, w, total) == pytest.approx(COSINE_FLOOR)


def test_schedule_sets_group_rates_and_resumes() -> None:
    p = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([{"params": [p], "lr": 0.1}, {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.02}])
    sched = LrSchedule(opt, "eden", warmup_steps=10)
    sched.set(37, 2)
    f = eden_factor(37, 2, 10)
    assert sched.get_last_lr() == pytest.approx([0.1 * f, 0.02 * f])
    opt2 = torch.optim.SGD([{"params": [p], "lr": 0.1}, {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.02}])
    sched2 = LrSchedule(opt2, SchedulerName.EDEN, warmup_steps=10)
    sched2.load_state_dict(sched.state_dict())
    assert sched2.get_last_lr() == sched.get_last_lr()


def test_names_are_case_insensitive_and_checked() -> None:
    assert SchedulerName.parse("NOAM") == SchedulerName.NOAM
    with pytest.raises(InvalidInputError, match="--scheduler-name"):
        SchedulerName.parse("linear")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(InvalidInputError, match="total number of steps"):
        LrSchedule(opt, "cosine", warmup_steps=5)
