"""The model on a CUDA device: the same losses, logits and greedy codes as on the CPU, batched decoding, bf16.

These run only where `torch.cuda.is_available()` (marked `gpu`; CI has no GPU). They need no espeak, no data
and no weights: random models and random batches, as the CPU tests use.
"""

from __future__ import annotations

import copy

import pytest
import torch

from tests.models.conftest import make_batch, randomize_
from valle.models import build_model, compute_losses, debug_config

pytestmark = pytest.mark.gpu


def _pair(seed: int = 0, **options):
    """The same randomized model on the CPU and on the GPU (float32 everywhere)."""
    cpu = randomize_(build_model(debug_config(**options)), seed=seed)
    return cpu, copy.deepcopy(cpu).to("cuda")


@pytest.mark.parametrize("options", [{}, {"model_name": "VALL-F", "prepend_bos": True}], ids=["valle", "vallf_bos"])
def test_losses_and_logits_match_the_cpu(options: dict) -> None:
    cpu, gpu = _pair(**options)
    x, x_lens, y, y_lens = make_batch(cpu.config, [8, 5, 6], [13, 9, 11])
    dev = [t.to("cuda") for t in (x, x_lens, y, y_lens)]
    with torch.no_grad():
        torch.testing.assert_close(gpu.ar_logits(*dev).cpu(), cpu.ar_logits(x, x_lens, y, y_lens), atol=2e-4, rtol=1e-4)
        a = compute_losses(cpu, x, x_lens, y, y_lens, generator=torch.Generator().manual_seed(1))
        b = compute_losses(gpu, *dev, generator=torch.Generator().manual_seed(1))  # the same prompt draws
    torch.testing.assert_close(b.loss.cpu(), a.loss, atol=1e-4, rtol=1e-5)
    assert b.ar_tokens == a.ar_tokens
    with torch.no_grad():  # text dropout draws from the trainer's CPU generator while the batch is on the GPU
        a = compute_losses(cpu, x, x_lens, y, y_lens, generator=torch.Generator().manual_seed(2), text_dropout=0.5)
        b = compute_losses(gpu, *dev, generator=torch.Generator().manual_seed(2), text_dropout=0.5)
    torch.testing.assert_close(b.loss.cpu(), a.loss, atol=1e-4, rtol=1e-5)


def test_bf16_autocast_training_step_is_finite_and_moves_the_loss() -> None:
    _, gpu = _pair()
    gpu.train()
    x, x_lens, y, y_lens = (t.to("cuda") for t in make_batch(gpu.config, [8, 5, 6], [13, 9, 11]))
    opt = torch.optim.Adam(gpu.parameters(), lr=1e-3)
    losses = []
    for _ in range(30):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = compute_losses(gpu, x, x_lens, y, y_lens, generator=torch.Generator().manual_seed(0))
        opt.zero_grad()
        out.loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in gpu.parameters() if p.grad is not None)
        opt.step()
        losses.append(out.loss.item())
    assert losses[-1] < 0.8 * losses[0]  # it learns the batch under bf16


def test_greedy_codes_match_the_cpu_with_and_without_the_cache() -> None:
    cpu, gpu = _pair(seed=3)
    x, x_lens, y, _ = make_batch(cpu.config, [10], [12], seed=5)
    prompt = y[:, :8]
    want = cpu.generate(x, x_lens, prompt, top_k=1, max_new_frames=40)
    for use_cache in (True, False):
        got = gpu.generate(x.cuda(), x_lens.cuda(), prompt.cuda(), top_k=1, max_new_frames=40, use_cache=use_cache)
        assert got.device.type == "cuda"
        assert torch.equal(got.cpu(), want), f"use_cache={use_cache}"


def test_batched_greedy_decoding_matches_one_by_one() -> None:
    _, gpu = _pair(seed=4)
    x, x_lens, y, _ = make_batch(gpu.config, [10, 7, 12], [12, 12, 12], seed=6)
    x, x_lens, prompts = x.cuda(), x_lens.cuda(), y[:, :8].cuda()
    batched = gpu.generate_batch(x, x_lens, prompts, top_k=1, max_new_frames=30)
    for i, codes in enumerate(batched):
        n = int(x_lens[i])
        alone = gpu.generate(x[i : i + 1, :n], x_lens[i : i + 1], prompts[i : i + 1], top_k=1, max_new_frames=30)
        assert torch.equal(codes.cpu(), alone[0].cpu()), f"row {i}"
