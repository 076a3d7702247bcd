"""The one transformer layer used everywhere (AR and NAR, VALL-E and VALL-F, training and decoding).

Options: pre-norm or post-norm, plain or adaptive layer norm (the NAR's stage conditioning), optional
cross-attention to a memory (VALL-F), optional KV cache.  Attribute names follow lifeiteng/vall-e
(`self_attn`, `multihead_attn`, `linear1`, `linear2`, `norm1..3`, `layers`, `norm`), so the reference's
state dicts load without a key mapping.

Dimension legend: B batch, T positions, S memory positions, D width.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from valle.models.attention import MultiHeadAttention
from valle.models.kv_cache import KVCache


class LayerNorm(nn.LayerNorm):
    """`nn.LayerNorm` with the conditional-norm call signature (the condition must be None)."""

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:  # type: ignore[override]
        assert cond is None, "a plain LayerNorm takes no condition"
        return super().forward(x)


class AdaptiveLayerNorm(nn.Module):
    """AdaLN: `a * LayerNorm(x) + b` with `[a, b] = Linear(cond)` (VALL-E's NAR stage conditioning).

    Args:
        dim: width D.
        eps: LayerNorm epsilon.
    """

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.dim = dim
        self.project_layer = nn.Linear(dim, 2 * dim)
        self.norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        """Args: x [B, T, D]; cond [1, D] or [B, 1, D] (the stage embedding)."""
        assert cond is not None, "AdaptiveLayerNorm needs a condition (the NAR stage embedding)"
        scale, shift = self.project_layer(cond).split(self.dim, dim=-1)  # [.., D] each
        return scale * self.norm(x) + shift


def make_norm(dim: int, adaptive: bool) -> LayerNorm | AdaptiveLayerNorm:
    return AdaptiveLayerNorm(dim) if adaptive else LayerNorm(dim)


class TransformerLayer(nn.Module):
    """Self-attention [+ cross-attention] + ReLU feed-forward, each with a residual and a norm.

    Args:
        dim: width D.
        num_heads: attention heads.
        dropout: residual, attention and feed-forward dropout.
        attention_dropout: dropout on the attention weights if not the same as `dropout`.
        norm_first: pre-norm (`x + f(norm(x))`) if True, post-norm (`norm(x + f(x))`) otherwise.
        adaptive_norm: use `AdaptiveLayerNorm` (NAR) instead of `LayerNorm` (AR).
        cross_attention: add an attention block over a memory (VALL-F's text) after self-attention.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        dropout: float,
        norm_first: bool,
        adaptive_norm: bool,
        cross_attention: bool,
        attention_dropout: float | None = None,
    ) -> None:
        super().__init__()
        self.norm_first = norm_first
        p_attn = dropout if attention_dropout is None else attention_dropout
        self.self_attn = MultiHeadAttention(dim, num_heads, p_attn)
        self.multihead_attn = MultiHeadAttention(dim, num_heads, p_attn, cross=True) if cross_attention else None
        self.linear1 = nn.Linear(dim, 4 * dim)
        self.linear2 = nn.Linear(4 * dim, dim)
        self.dropout = nn.Dropout(dropout)
        self.norm1 = make_norm(dim, adaptive_norm)
        self.norm2 = make_norm(dim, adaptive_norm)
        self.norm3 = make_norm(dim, adaptive_norm) if cross_attention else None

    def _feed_forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.linear2(self.dropout(F.relu(self.linear1(x)))))

    def forward(
        self,
        x: Tensor,
        *,
        mask: Tensor | None = None,
        memory: Tensor | None = None,
        memory_mask: Tensor | None = None,
        cond: Tensor | None = None,
        cache: KVCache | None = None,
        layer: int = 0,
    ) -> Tensor:
        """Args: see `TransformerStack.forward`; `layer` is this layer's index in the cache."""
        blocks = [lambda h: self.dropout(self.self_attn(h, mask=mask, cache=cache, layer=layer))]
        norms = [self.norm1, self.norm2]
        if self.multihead_attn is not None:
            cross = self.multihead_attn
            blocks.append(lambda h: self.dropout(cross(h, mask=memory_mask, memory=memory, cache=cache, layer=layer)))
            norms.append(self.norm3)  # type: ignore[arg-type]
        blocks.append(self._feed_forward)
        for block, norm in zip(blocks, norms):
            if self.norm_first:
                x = x + block(norm(x, cond))
            else:
                x = norm(x + block(x), cond)
        return x


class TransformerStack(nn.Module):
    """`num_layers` identical `TransformerLayer`s and, for pre-norm stacks, a final norm.

    The closing norm exists exactly when `norm_first` (as in the reference: a post-norm stack already
    ends with a norm).

    Args:
        num_layers: depth.
        dim, num_heads, dropout, norm_first, adaptive_norm, cross_attention, attention_dropout: see
            `TransformerLayer`.
    """

    def __init__(
        self,
        num_layers: int,
        dim: int,
        num_heads: int,
        dropout: float,
        norm_first: bool,
        adaptive_norm: bool,
        cross_attention: bool,
        attention_dropout: float | None = None,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.layers = nn.ModuleList(
            TransformerLayer(dim, num_heads, dropout, norm_first, adaptive_norm, cross_attention, attention_dropout)
            for _ in range(num_layers)
        )
        self.norm = make_norm(dim, adaptive_norm) if norm_first else None

    def forward(
        self,
        x: Tensor,
        *,
        mask: Tensor | None = None,
        memory: Tensor | None = None,
        memory_mask: Tensor | None = None,
        cond: Tensor | None = None,
        cache: KVCache | None = None,
    ) -> Tensor:
        """Run all layers.

        Args:
            x: [B, T, D] input sequence.
            mask: self-attention mask, bool broadcastable to [B, H, T, S_self] (True = may attend), where
                S_self = T, or cached + T with a cache.  None = full attention.
            memory: [B, S, D] cross-attention memory (VALL-F); ignored by stacks without cross-attention.
            memory_mask: bool broadcastable to [B, H, T, S] for the cross-attention.
            cond: [1, D] AdaLN condition (NAR stage embedding); None for plain-norm stacks.
            cache: KV cache; `cache.extend()` must have reserved T positions; committed here.

        Returns:
            [B, T, D].
        """
        for i, layer in enumerate(self.layers):
            x = layer(x, mask=mask, memory=memory, memory_mask=memory_mask, cond=cond, cache=cache, layer=i)
        if cache is not None:
            cache.commit()
        if self.norm is not None:
            x = self.norm(x, cond)
        return x
