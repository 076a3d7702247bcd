"""AR samplers: the reference's top-k / top-p / temperature draw, and VALL-E 2's repetition-aware sampling.

A sampler is the `(logits [B, V], history [B, n]) -> ids [B]` callable that `valle.models.generate`
calls once per step.  Two properties matter for serving:

* With a seed, every row draws from its own generator seeded the same way, so an item gets the same codes
  whether it is decoded alone or inside any batch.
* Repetition-aware sampling (VALL-E 2, arXiv 2406.05370, Algorithm 1): draw y' by nucleus/top-k
  sampling; if y' already makes up >= t_r of the last K codes, draw again from the whole distribution
  (temperature only).  It breaks the silent/stuck loops that plain top-p decoding falls into.

Dimension legend: B batch, V vocabulary, n history length (left-padded with -1, which never matches).
"""

from __future__ import annotations

import torch
from torch import Tensor

from valle.infer.options import SynthesisOptions
from valle.models.generate import Sampler, sample_top_k_top_p


def repetition_ratio(candidates: Tensor, history: Tensor, window: int) -> Tensor:
    """Share of the last `window` history ids equal to each row's candidate.

    Args:
        candidates: [B] ids; history: [B, n] ids so far (left padding -1).
        window: K.

    Returns:
        [B] float in [0, 1]: count / K (a history shorter than K still divides by K, as in the paper).
    """
    recent = history[:, -window:]  # [B, <=K]
    return (recent == candidates.unsqueeze(1)).sum(dim=1).float() / window


def repetition_aware_sample(
    logits: Tensor,
    history: Tensor,
    options: SynthesisOptions,
    generators: list[torch.Generator | None] | None = None,
) -> Tensor:
    """One VALL-E 2 RAS step: filtered draw, then a full-distribution redraw for rows that repeat too much.

    Args:
        logits: [B, V]; history: [B, n].
        options: top_k / top_p / temperature for the first draw; ras_window / ras_threshold for the check.
        generators: one per row (None entries or None = the global RNG).

    Returns:
        [B] ids.
    """
    first = _draw(logits, options.top_k, options.top_p, options.temperature, generators)
    repeat = repetition_ratio(first, history, options.ras_window) >= options.ras_threshold  # [B]
    if not bool(repeat.any()):
        return first
    rows = repeat.nonzero().flatten().tolist()
    gens = [generators[i] for i in rows] if generators is not None else None
    again = _draw(logits[rows], -1, 1.0, options.temperature, gens)
    out = first.clone()
    out[rows] = again
    return out


def _draw(
    logits: Tensor, top_k: int, top_p: float, temperature: float, generators: list[torch.Generator | None] | None
) -> Tensor:
    """Filtered draw for all rows: one batched call without per-row generators, else one call per row."""
    if generators is None or top_k == 1:
        return sample_top_k_top_p(logits, top_k, top_p, temperature)
    return torch.cat(
        [sample_top_k_top_p(logits[i : i + 1], top_k, top_p, temperature, g) for i, g in enumerate(generators)]
    )


# Candidate k > 0 of a text draws with seed + k * this: candidate 0 is what one draw gives, and the other
# candidates of seed s are not those of seed s + 1.
CANDIDATE_SEED_STRIDE = 1_000_003


def candidate_seed(seed: int, k: int) -> int:
    """The sampling seed of candidate `k` of a text decoded with `seed` (kept below 2**63, as seeds are)."""
    return (seed + k * CANDIDATE_SEED_STRIDE) % 2**63


def make_sampler(
    options: SynthesisOptions, batch_size: int, device: torch.device | str = "cpu", candidates: int = 1
) -> Sampler:
    """The sampler `options` describe, for a batch of `batch_size` rows.

    With `options.seed`, each row gets a generator seeded with it (batch-independent results); without,
    all rows share the global RNG.  With `candidates` > 1, rows come in groups of that many draws of one text,
    and row r draws with `candidate_seed(seed, r % candidates)`.
    """
    generators: list[torch.Generator | None] | None = None
    if options.seed is not None and not options.greedy:
        generators = [torch.Generator(device=device).manual_seed(candidate_seed(options.seed, r % candidates))
                      for r in range(batch_size)]  # fmt: skip

    def sampler(logits: Tensor, history: Tensor) -> Tensor:
        if options.ras:
            return repetition_aware_sample(logits, history, options, generators)
        return _draw(logits, options.top_k, options.top_p, options.temperature, generators)

    return sampler
