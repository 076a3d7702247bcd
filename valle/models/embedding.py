"""Input layers: token embeddings, sinusoidal positions with a learned scale, optional pre-nets.

Attribute names (`word_embeddings`, `alpha`, the `nn.Sequential` indices of the pre-nets) are those of
lifeiteng/vall-e, so its state dicts load without a key mapping.

Dimension legend: B batch, L sequence length (text S or audio T), D width.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class TokenEmbedding(nn.Module):
    """`nn.Embedding` under the attribute name the reference uses (`.word_embeddings.weight`)."""

    def __init__(self, dim: int, vocab_size: int) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, dim)

    @property
    def weight(self) -> Tensor:
        return self.word_embeddings.weight

    def forward(self, ids: Tensor) -> Tensor:
        return self.word_embeddings(ids)  # [B, L, D]


def sinusoid_table(positions: Tensor, dim: int) -> Tensor:
    """Transformer sine/cosine encodings: even channels sin(p * w_i), odd channels cos(p * w_i).

    `w_i = exp(-ln(10000) * 2i / dim)`, computed in float32 exactly as the reference does so that
    logits match it to float rounding.

    Args:
        positions: any-shape integer or float tensor of positions.
        dim: encoding width (even).

    Returns:
        float32 tensor `positions.shape + (dim,)`.
    """
    div = torch.exp(
        torch.arange(0, dim, 2, dtype=torch.float32, device=positions.device) * -(math.log(10000.0) / dim)
    )
    angle = positions.to(torch.float32).unsqueeze(-1) * div  # [..., D/2]
    pe = torch.zeros(*positions.shape, dim, dtype=torch.float32, device=positions.device)
    pe[..., 0::2] = torch.sin(angle)
    pe[..., 1::2] = torch.cos(angle)
    return pe


class SinePositionalEmbedding(nn.Module):
    """`x + alpha * PE(position)` followed by dropout; positions restart at 0 for every segment.

    `alpha` is learned in the AR stack and frozen at 1 in the NAR stack (as in the reference, where it
    still appears in the state dict).  Positions may be given per row, which is what incremental
    decoding needs (each row continues from its own cached length).
    """

    def __init__(self, dim: int, dropout: float, learn_alpha: bool) -> None:
        super().__init__()
        self.dim = dim
        self.alpha = nn.Parameter(torch.ones(1), requires_grad=learn_alpha)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, positions: Tensor | None = None) -> Tensor:
        """Add position encodings.

        Args:
            x: [B, L, D] embeddings.
            positions: [B, L] or [L] integer positions; None means 0..L-1 for every row.
        """
        if positions is None:
            positions = torch.arange(x.shape[1], device=x.device)
        pe = sinusoid_table(positions, self.dim).to(x.dtype)  # [L, D] or [B, L, D]
        return self.dropout(x + self.alpha * pe)


class Transpose(nn.Module):
    """[B, L, D] <-> [B, D, L], so a Conv1d pre-net can sit inside an `nn.Sequential`."""

    def forward(self, x: Tensor) -> Tensor:
        return x.transpose(1, 2)


def text_prenet(dim: int) -> nn.Sequential:
    """Three conv(k=5)-BN-ReLU-dropout(0.5) blocks and a linear layer (the reference's text pre-net).

    The layer order (hence the state-dict indices 1, 2, 5, 6, 9, 10, 14) is the reference's.
    """
    blocks: list[nn.Module] = [Transpose()]
    for _ in range(3):
        conv = nn.Conv1d(dim, dim, kernel_size=5, padding="same")
        blocks += [conv, nn.BatchNorm1d(dim), nn.ReLU(), nn.Dropout(0.5)]
    blocks += [Transpose(), nn.Linear(dim, dim)]
    return nn.Sequential(*blocks)


def audio_prenet(dim: int, hidden: int = 256) -> nn.Sequential:
    """Linear-ReLU-dropout(0.25) x 2 and a linear layer back to `dim` (the reference's audio pre-net)."""
    return nn.Sequential(
        nn.Linear(dim, hidden),
        nn.ReLU(),
        nn.Dropout(0.25),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Dropout(0.25),
        nn.Linear(hidden, dim),
    )
