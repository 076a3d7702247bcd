"""Explicit key/value cache for incremental (token-by-token) decoding of one transformer stack.

The cache is owned by the decoding loop and passed to the stack on every call; attention layers write
their new keys/values into it and read back everything cached so far.  Nothing is hidden in module
state, so the same layers serve training (no cache), full re-computation and cached decoding.

Protocol for one call of the stack with `T` new positions:

    key_valid = cache.extend(new_valid)       # reserve T slots, mark which are real (not padding)
    ... build the attention mask over key_valid ([B, cache.length + T]) ...
    stack(h, mask=..., cache=cache)           # layer i calls cache.update(i, k, v) -> all keys/values
                                              # the stack calls cache.commit() at the end

Dimension legend: B batch, H heads, L cached length (capacity C), T new positions, Dh head width.
"""

from __future__ import annotations

import torch
from torch import Tensor


class KVCache:
    """Pre-allocated per-layer key/value buffers (grown by doubling) plus a key-validity mask.

    Pre-allocation keeps each decoding step at O(new tokens) memory traffic instead of copying the
    whole cache (as `torch.cat` would) on every step.

    Args:
        num_layers: layers of the stack that will use the cache.
        batch_size: rows B.
        num_heads: attention heads H.
        head_dim: per-head width Dh.
        capacity: initial number of positions C (grows automatically).
        device, dtype: of the buffers (match the model's activations).
    """

    def __init__(
        self,
        num_layers: int,
        batch_size: int,
        num_heads: int,
        head_dim: int,
        capacity: int = 256,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        shape = (batch_size, num_heads, max(1, capacity), head_dim)
        self.keys = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(num_layers)]
        self.values = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(num_layers)]
        self.key_valid = torch.zeros(batch_size, shape[2], dtype=torch.bool, device=device)  # [B, C]
        # Cross-attention keys/values of a fixed memory (VALL-F's text), computed once per layer.
        self.memory_kv: list[tuple[Tensor, Tensor] | None] = [None] * num_layers
        self.length = 0  # committed positions
        self._pending = 0  # positions reserved by `extend` for the current call

    @property
    def batch_size(self) -> int:
        return self.key_valid.shape[0]

    @property
    def capacity(self) -> int:
        return self.key_valid.shape[1]

    def _grow(self, needed: int) -> None:
        new_cap = max(needed, 2 * self.capacity)
        for store in (self.keys, self.values):
            for i, buf in enumerate(store):
                bigger = buf.new_zeros(buf.shape[0], buf.shape[1], new_cap, buf.shape[3])
                bigger[:, :, : self.length] = buf[:, :, : self.length]
                store[i] = bigger
        valid = self.key_valid.new_zeros(self.batch_size, new_cap)
        valid[:, : self.length] = self.key_valid[:, : self.length]
        self.key_valid = valid

    def extend(self, new_valid: Tensor) -> Tensor:
        """Reserve `T` positions for the next stack call and return the validity of all keys.

        Args:
            new_valid: [B, T] bool, True where the new position is a real token (False = padding,
                never attended to).

        Returns:
            [B, length + T] bool view: which keys attention may use during this call.
        """
        assert new_valid.ndim == 2 and new_valid.shape[0] == self.batch_size, tuple(new_valid.shape)
        assert self._pending == 0, f"extend() called twice without commit() ({self._pending} pending)"
        t = new_valid.shape[1]
        if self.length + t > self.capacity:
            self._grow(self.length + t)
        self.key_valid[:, self.length : self.length + t] = new_valid
        self._pending = t
        return self.key_valid[:, : self.length + t]

    def update(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Store the new keys/values of `layer` and return all of them.

        Args:
            layer: index of the calling layer.
            k, v: [B, H, T, Dh] for the T positions reserved by `extend`.

        Returns:
            keys, values: [B, H, length + T, Dh] views (no copy of the history).
        """
        t = k.shape[2]
        assert t == self._pending, f"layer {layer} wrote {t} positions, extend() reserved {self._pending}"
        end = self.length + t
        self.keys[layer][:, :, self.length : end] = k
        self.values[layer][:, :, self.length : end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]

    def commit(self) -> None:
        """Make the positions reserved by `extend` part of the history (called once per stack call)."""
        self.length += self._pending
        self._pending = 0
