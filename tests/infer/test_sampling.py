"""Samplers: repetition-aware sampling (VALL-E 2) and batch-independent seeded draws; option checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from valle.errors import InvalidInputError
from valle.infer import SynthesisOptions, make_sampler
from valle.infer.sampling import repetition_aware_sample, repetition_ratio


def test_repetition_ratio_counts_the_last_window() -> None:
    history = torch.tensor([[-1, -1, 5, 5, 7, 5], [1, 2, 3, 4, 5, 6]])
    assert repetition_ratio(torch.tensor([5, 9]), history, window=4).tolist() == [0.75, 0.0]  # 5 5 7 5
    assert repetition_ratio(torch.tensor([5, 6]), history, window=10).tolist() == pytest.approx([0.3, 0.1])  # / K


def test_ras_redraws_only_repeated_candidates() -> None:
    # Code 3 holds 90 % of the mass: nucleus sampling (top_p 0.5) always proposes it.
    logits = torch.log(torch.tensor([[0.025, 0.025, 0.025, 0.9, 0.025]])).repeat(2000, 1)
    fresh = torch.zeros(2000, 10, dtype=torch.long)  # 3 never seen
    stuck = torch.full((2000, 10), 3)  # 3 fills the window
    opts = SynthesisOptions(top_p=0.5, ras=True, ras_window=10, ras_threshold=0.1)
    torch.manual_seed(0)
    assert (repetition_aware_sample(logits, fresh, opts) == 3).all()
    redrawn = repetition_aware_sample(logits, stuck, opts)
    share = (redrawn == 3).float().mean().item()
    assert 0.85 < share < 0.95  # redraws come from the full distribution (p(3) = 0.9), not the nucleus
    assert set(redrawn.tolist()) == {0, 1, 2, 3, 4}


@pytest.mark.parametrize("opts", [SynthesisOptions(top_k=20, seed=7), SynthesisOptions(top_p=0.8, ras=True, seed=7)])
def test_seeded_rows_draw_the_same_alone_or_batched(opts: SynthesisOptions) -> None:
    g = torch.Generator().manual_seed(0)
    steps = [torch.randn(3, 50, generator=g) for _ in range(6)]
    history = torch.randint(0, 50, (3, 4), generator=g)
    batch = make_sampler(opts, 3)
    alone = [make_sampler(opts, 1) for _ in range(3)]
    for logits in steps:
        ids = batch(logits, history)
        for i in range(3):
            assert torch.equal(ids[i : i + 1], alone[i](logits[i : i + 1], history[i : i + 1]))
        history = torch.cat([history, ids[:, None]], dim=1)


def test_unseeded_sampler_uses_the_global_rng() -> None:
    logits = torch.zeros(4, 100)
    sampler = make_sampler(SynthesisOptions(), 4)
    torch.manual_seed(1)
    a = sampler(logits, torch.zeros(4, 0, dtype=torch.long))
    torch.manual_seed(1)
    assert torch.equal(a, sampler(logits, torch.zeros(4, 0, dtype=torch.long)))


def test_greedy_sampler_is_argmax() -> None:
    logits = torch.randn(5, 30)
    assert torch.equal(make_sampler(SynthesisOptions(top_k=1, seed=0), 5)(logits, logits.new_zeros(5, 1).long()),
                       logits.argmax(-1))  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"top_p": 1.5}, "top_p must lie"),
        ({"temperature": 0.0}, r"^temperature must be a finite number > 0, got 0.0$"),  # not re-wrapped
        ({"temperature": float("inf")}, "temperature must be a finite number > 0, got inf"),
        ({"pause_seconds": float("nan")}, "pause_seconds must be a finite number"),
        ({"ras_window": 0}, "ras_window"),
        ({"ras_threshold": 0.0}, "ras_threshold"),
        ({"min_new_frames": -1}, "min_new_frames"),
        ({"max_new_frames": 3, "min_new_frames": 5}, "max_new_frames"),
        ({"batch_size": 0}, "batch_size"),
        ({"candidates": 0}, "candidates must be >= 1 draw per text, got 0"),
        ({"candidates": 2.0}, "candidates must be a whole number"),
        ({"max_text_tokens": 0}, "max_text_tokens"),
        ({"unknown_symbols": "ignore"}, "unknown_symbols"),
        ({"top_k": 2.5}, "top_k must be a whole number, got 2.5"),
        ({"top_k": True}, "top_k must be a whole number, got True"),
        ({"batch_size": 2.5}, "batch_size must be a whole number"),
        ({"ras": "no"}, "ras must be true or false, got 'no'"),  # a non-empty string would read as True
        ({"use_cache": 0}, "use_cache must be true or false"),
        ({"seed": "abc"}, "seed must be a whole number or None"),
        ({"seed": 1.5}, "seed must be a whole number or None"),
        ({"max_text_tokens": "150"}, "max_text_tokens must be a whole number or None"),
        ({"tempreature": 0.5}, "unknown synthesis option.*'tempreature'.*temperature"),
    ],
)
def test_options_are_verified(changes: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        SynthesisOptions().with_changes(**changes)


def test_options_accept_numbers_of_any_numeric_type() -> None:
    opts = SynthesisOptions().with_changes(temperature=1, top_p=np.float32(0.5), seed=np.int64(3), max_new_frames=None)
    assert (opts.temperature, opts.seed) == (1, 3)


def test_options_are_frozen_and_hashable() -> None:
    opts = SynthesisOptions(top_k=5)
    with pytest.raises(AttributeError):
        opts.top_k = 3  # type: ignore[misc]
    assert {opts: 1}[SynthesisOptions(top_k=5)] == 1
    assert opts.with_changes(seed=1).seed == 1 and opts.seed is None
