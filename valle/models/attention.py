"""Multi-head attention on `scaled_dot_product_attention`, for self- and cross-attention, with a KV cache.

Parameter names (`in_proj_weight`, `in_proj_bias`, `out_proj`) and layout (q, k, v stacked in that order)
are those of `torch.nn.MultiheadAttention`, which lifeiteng/vall-e copies, so its weights load as they are.

Dimension legend: B batch, T query positions, S key positions, D width, H heads, Dh = D / H.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from valle.models.kv_cache import KVCache


class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention over H heads with fused input projections.

    Args:
        dim: model width D.
        num_heads: H (must divide D).
        dropout: dropout on the attention weights while training.
        cross: attend to a separate memory (keys/values projected from it, cached once) instead of to `x`.
    """

    def __init__(self, dim: int, num_heads: int, dropout: float, cross: bool = False) -> None:
        super().__init__()
        self.cross = cross
        assert dim % num_heads == 0, f"width {dim} not divisible by {num_heads} heads"
        self.dim = dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)
        # Under bf16/fp16 autocast, run this whole block in float32 (see `use_float32_attention`).
        self.float32_under_autocast = False

    def _heads(self, x: Tensor) -> Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.num_heads, self.dim // self.num_heads).transpose(1, 2)  # [B, H, T, Dh]

    def forward(
        self,
        x: Tensor,
        *,
        mask: Tensor | None = None,
        memory: Tensor | None = None,
        cache: KVCache | None = None,
        layer: int = 0,
    ) -> Tensor:
        """Attend from `x` to itself (self-attention) or to `memory` (cross-attention module).

        Args:
            x: [B, T, D] queries (and keys/values for self-attention).
            mask: bool, broadcastable to [B, H, T, S]; True = may attend.  None = attend everywhere.
            memory: [B, S, D] keys/values source of a cross-attention module.  With a cache, its
                projections are computed on the first call and reused afterwards (later calls may pass None).
            cache: incremental-decoding state; self-attention appends this call's keys/values to it.
            layer: this layer's index in the cache.

        Returns:
            [B, T, D].
        """
        if self.float32_under_autocast and torch.is_autocast_enabled(x.device.type):
            with torch.autocast(x.device.type, enabled=False):
                return self._attend(x.float(), mask, None if memory is None else memory.float(), cache, layer)
        return self._attend(x, mask, memory, cache, layer)

    def _attend(self, x: Tensor, mask: Tensor | None, memory: Tensor | None, cache: KVCache | None,
                layer: int) -> Tensor:  # fmt: skip
        d = self.dim
        if not self.cross:
            q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).split(d, dim=-1)  # 3 x [B, T, D]
            q, k, v = self._heads(q), self._heads(k), self._heads(v)  # [B, H, T, Dh]
            if cache is not None:
                k, v = cache.update(layer, k, v)  # [B, H, S, Dh], S = cached + T
        else:
            q = self._heads(F.linear(x, self.in_proj_weight[:d], self.in_proj_bias[:d]))  # [B, H, T, Dh]
            stored = cache.memory_kv[layer] if cache is not None else None
            if stored is None:
                assert memory is not None, "cross-attention needs `memory` on its first call"
                k, v = F.linear(memory, self.in_proj_weight[d:], self.in_proj_bias[d:]).split(d, dim=-1)
                k, v = self._heads(k), self._heads(v)  # [B, H, S, Dh]
                if cache is not None:
                    cache.memory_kv[layer] = (k, v)
            else:
                k, v = stored
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )  # [B, H, T, Dh]
        out = out.transpose(1, 2).reshape(x.shape[0], x.shape[1], d)  # [B, T, D]
        return self.out_proj(out)


def use_float32_attention(model: nn.Module, enabled: bool = True) -> int:
    """Run every attention block of `model` in float32 even under bf16/fp16 autocast; returns how many.

    Why: in a trained VALL-E's sharp attention layers, bf16 projections bend the gradients (bench/precision.py:
    cosine 0.53 to float32 for one layer's projections, 0.96-0.99 for the whole gradient with this on), and
    fine-tuning under bf16 diverged on a GPU where float32 did not (docs/train.md).  The feed-forward layers,
    most of the arithmetic, stay in low precision.
    """
    blocks = [m for m in model.modules() if isinstance(m, MultiHeadAttention)]
    for m in blocks:
        m.float32_under_autocast = enabled
    return len(blocks)
