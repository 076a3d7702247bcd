"""Attention masks as boolean tensors where True means "may attend" (the `scaled_dot_product_attention` rule).

The masks reproduce lifeiteng/vall-e's: padding keys are never attended to; padding *queries* still get
an (unused) output.  Every query row keeps at least one key (the first text token, or its own audio
frame), so no softmax row is empty.

Dimension legend: B batch, S text positions, T audio positions, L = S + T.
"""

from __future__ import annotations

import torch
from torch import Tensor


def lengths_to_valid(lengths: Tensor, max_len: int) -> Tensor:
    """[B] lengths -> [B, max_len] bool, True for positions < length."""
    return torch.arange(max_len, device=lengths.device) < lengths.to(torch.long).unsqueeze(1)


def key_mask(valid: Tensor) -> Tensor:
    """[B, S] key validity -> [B, 1, 1, S]: every query may attend to every real key."""
    return valid[:, None, None, :]


def causal_mask(valid: Tensor) -> Tensor:
    """[B, T] validity -> [B, 1, T, T]: query t attends to real keys <= t."""
    t = valid.shape[1]
    tri = torch.ones(t, t, dtype=torch.bool, device=valid.device).tril()  # [T, T]
    return tri[None, None] & valid[:, None, None, :]


def prefix_lm_mask(text_valid: Tensor, audio_valid: Tensor) -> Tensor:
    """The VALL-E AR mask over `[text ; audio]`.

    Text queries see all real text keys and no audio; audio queries see all real text keys and the real
    audio keys up to themselves.  Example with S = 2, T = 3 (row = query, column = key, all real):

        t0 t1 a0 a1 a2
        1  1  0  0  0    t0
        1  1  0  0  0    t1
        1  1  1  0  0    a0
        1  1  1  1  0    a1
        1  1  1  1  1    a2

    Args:
        text_valid: [B, S] bool.
        audio_valid: [B, T] bool.

    Returns:
        [B, 1, S + T, S + T] bool.
    """
    s, t = text_valid.shape[1], audio_valid.shape[1]
    dev = text_valid.device
    structure = torch.zeros(s + t, s + t, dtype=torch.bool, device=dev)  # [L, L]
    structure[:, :s] = True
    structure[s:, s:] = torch.ones(t, t, dtype=torch.bool, device=dev).tril()
    valid = torch.cat([text_valid, audio_valid], dim=1)  # [B, L]
    return structure[None, None] & valid[:, None, None, :]
