"""Key/value cache and attention shared by the model families.

All rows of a batch are at the same position (the generator batches prompts of equal
token length), so there is no padding and no mask but the causal one: each row's
attention is the same computation whatever the batch holds.
"""

from __future__ import annotations

import torch


class KVCache:
    """Per-layer keys and values, preallocated for `max_len` positions."""

    def __init__(self, layers: int, batch: int, kv_heads: int, max_len: int, head_dim: int):
        shape = (batch, kv_heads, max_len, head_dim)
        self.k = [torch.zeros(shape) for _ in range(layers)]
        self.v = [torch.zeros(shape) for _ in range(layers)]
        self.length = 0  # positions filled, the same for every row
        self.max_len = max_len

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """k, v: [B, Hkv, L, d] for the new positions; returns all keys and values so far."""
        start, end = self.length, self.length + k.shape[2]
        if end > self.max_len:
            raise ValueError(f"sequence of {end} tokens exceeds the cache of {self.max_len}")
        self.k[layer][:, :, start:end] = k
        self.v[layer][:, :, start:end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]

    @classmethod
    def from_prefix(cls, prefix: "KVCache", batch: int, max_len: int) -> "KVCache":
        """A cache for `batch` rows that all start with the one-row `prefix` cache."""
        layers, _, kv_heads, _, head_dim = len(prefix.k), *prefix.k[0].shape
        cache = cls(layers, batch, kv_heads, max_len, head_dim)
        n = prefix.length
        for layer in range(layers):
            cache.k[layer][:, :, :n] = prefix.k[layer][:, :, :n]
            cache.v[layer][:, :, :n] = prefix.v[layer][:, :, :n]
        cache.length = n
        return cache

    def keep_rows(self, rows: torch.Tensor) -> None:
        """Drop finished rows: keep only `rows` (int64 indices) of every layer."""
        self.k = [t.index_select(0, rows) for t in self.k]
        self.v = [t.index_select(0, rows) for t in self.v]


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Causal grouped-query attention.

    q: [B, H, L, d] for the L newest positions; k, v: [B, Hkv, T, d] for all T positions
    (T >= L). Query head h reads key/value head h // (H // Hkv), as in Hugging Face's
    repeat_kv. Returns [B, L, H * d].
    """
    batch, heads, new, dim = q.shape
    kv_heads, total = k.shape[1], k.shape[2]
    group = heads // kv_heads
    q = q.reshape(batch, kv_heads, group * new, dim)  # [B, Hkv, g*L, d]
    scores = torch.matmul(q, k.transpose(-1, -2)) * (dim ** -0.5)  # [B, Hkv, g*L, T]
    if new > 1:
        # Query i (of the L new ones) sits at absolute position total - new + i.
        query_pos = torch.arange(total - new, total).repeat(group)  # [g*L]
        key_pos = torch.arange(total)
        scores = scores.masked_fill(key_pos[None, :] > query_pos[:, None], float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    out = torch.matmul(probs, v)  # [B, Hkv, g*L, d]
    out = out.reshape(batch, heads, new, dim).transpose(1, 2)  # [B, L, H, d]
    return out.reshape(batch, new, heads * dim)
