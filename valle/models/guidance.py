"""Text guidance for the AR (classifier-free guidance): what training and decoding must agree on.

Why: a small AR that speaks in the right voice but drifts from its text (the shipped model's failure) can be
pushed back towards the text at decoding time.  The model is trained with `--text-dropout P`: a share P of its AR
rows see the *empty* text, so the same weights also learn which code comes next from the audio alone.  Decoding
with `guidance` w then samples from `l_c + w * (l_c - l_u)`, where `l_c` are the logits given the text and `l_u`
the logits given the empty text and the same audio: what the text adds is amplified.  w = 0 is plain decoding.

The empty text is each row's first and last id, i.e. `[BOS, EOS]` as every valle collater writes text, so training
and decoding build it from the same function.  Guidance on a model trained without text dropout was measured to
hurt (docs/pretrained/README.md): `l_u` is then the model's guess on an input it never saw.
"""

from __future__ import annotations

import torch
from torch import Tensor

from valle.errors import InvalidInputError


def empty_text(x: Tensor, x_lens: Tensor) -> tuple[Tensor, Tensor]:
    """Each row's `[first id, last id]` (`[BOS, EOS]`), 0-padded to the width of `x`.

    Args:
        x: [B, S] text ids, 0-padded, every row at least 2 long; x_lens: [B].

    Returns:
        x_empty [B, S], lens [B] (all 2).
    """
    if x.shape[1] < 2 or int(x_lens.min()) < 2:
        raise InvalidInputError("text guidance needs text rows of at least 2 ids ([BOS, ..., EOS])")
    rows = torch.arange(x.shape[0], device=x.device)
    out = torch.zeros_like(x)
    out[:, 0] = x[:, 0]
    out[:, 1] = x[rows, x_lens.long() - 1]
    return out, torch.full_like(x_lens, 2)


def drop_text(
    x: Tensor, x_lens: Tensor, p: float, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Training: replace each row's text by the empty text with probability `p` (one draw per row).

    The draw happens on the CPU, like the trainer's other draws from its (CPU) generator, then moves to `x`.
    """
    drop = (torch.rand(x.shape[0], generator=generator) < p).to(x.device)  # [B]
    empty, empty_lens = empty_text(x, x_lens)
    return torch.where(drop.unsqueeze(1), empty, x), torch.where(drop, empty_lens, x_lens)


def with_empty_text(x: Tensor, x_lens: Tensor) -> tuple[Tensor, Tensor]:
    """Decoding: the batch twice, rows B..2B-1 with the empty text (the unconditional half)."""
    empty, empty_lens = empty_text(x, x_lens)
    return torch.cat([x, empty]), torch.cat([x_lens, empty_lens])


def guide(logits: Tensor, weight: float) -> Tensor:
    """[2B, V] logits (conditional rows first, then unconditional) -> [B, V] guided logits."""
    cond, uncond = logits.chunk(2)
    return cond + weight * (cond - uncond)
