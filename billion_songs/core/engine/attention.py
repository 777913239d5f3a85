"""Key/value caches and attention shared by the model families.

Two caches, one attention:
- `KVCache`: all rows at the same position (the free-form decoder batches prompts of
  equal token length), so there is no padding and no mask but the causal one.
- `RowCache`: each row at its own position, one token a step (the songwriting decoder,
  whose songs and candidate lines run at different lengths in one batch). Every row
  attends over the cache's full, fixed length with the positions past its own masked, so
  a row's attention is the same computation (same shapes, same values, the masked ones
  weighted exactly 0) whatever the other rows hold and however many there are.

Both store keys and values as float16 (`CACHE_DTYPE`): a float32 key or value is rounded
to the nearest half (ties to even) when written, and widened back to float32 (exactly)
when attention reads it, in this PyTorch path and in the native step alike. Half the
cache's memory, which dominates a batch's: 32 rows x 400 positions of the embedded model
take 295 MB instead of 590 MB. Keys and values of the embedded model stay below 25 in
magnitude, far inside half's range (65504).
"""

from __future__ import annotations

import torch

from billion_songs.core.engine import fixed_order


CACHE_DTYPE = torch.float16  # what the caches store (the native step reads and writes the same)


class KVCache:
    """Per-layer keys and values (float16), preallocated for `max_len` positions."""

    def __init__(self, layers: int, batch: int, kv_heads: int, max_len: int, head_dim: int):
        shape = (batch, kv_heads, max_len, head_dim)
        self.k = [torch.zeros(shape, dtype=CACHE_DTYPE) for _ in range(layers)]
        self.v = [torch.zeros(shape, dtype=CACHE_DTYPE) for _ in range(layers)]
        self.length = 0  # positions filled, the same for every row
        self.max_len = max_len

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """k, v: float32 [B, Hkv, L, d] for the new positions, stored as float16 (rounded to
        nearest even); returns all keys and values so far, as stored (float16: `attend`
        widens them)."""
        start, end = self.length, self.length + k.shape[2]
        if end > self.max_len:
            raise ValueError(f"sequence of {end} tokens exceeds the cache of {self.max_len}")
        self.k[layer][:, :, start:end] = k.to(CACHE_DTYPE)
        self.v[layer][:, :, start:end] = v.to(CACHE_DTYPE)
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

    # What a model's forward asks of a cache (RowCache answers the same questions).
    def positions(self, new: int) -> torch.Tensor:
        """int64 [B, L]: the positions of the `new` tokens of each row."""
        return torch.arange(self.length, self.length + new).expand(self.k[0].shape[0], new)

    def key_mask(self) -> torch.Tensor | None:
        """None: every key up to the current length is visible (attend adds the causal mask)."""
        return None

    def key_count(self, new: int) -> int:
        """T, the keys `append` returns for `new` tokens: the native step pads its sums as
        the PyTorch path's attention over T keys does. Raises when the cache is full."""
        if self.length + new > self.max_len:
            raise ValueError(f"sequence of {self.length + new} tokens exceeds the cache of {self.max_len}")
        return self.length + new

    def advance(self, new: int) -> None:
        self.length += new


class RowCache(KVCache):
    """Rows at their own positions, one token per row per step. `stepping` says which rows
    take their token for real this step. A row that waits (its candidate line is done
    while its siblings write on) is skipped by the native step; the PyTorch path runs it,
    and what it writes is masked and overwritten by its next real token."""

    def __init__(self, layers: int, batch: int, kv_heads: int, max_len: int, head_dim: int):
        super().__init__(layers, batch, kv_heads, max_len, head_dim)
        self.row_positions = torch.zeros(batch, dtype=torch.int64)
        self.stepping = torch.ones(batch, dtype=torch.bool)
        self._rows = torch.arange(batch)
        self._key_positions = torch.arange(max_len)

    @classmethod
    def from_prefix(cls, prefix: KVCache, batch: int, max_len: int) -> "RowCache":
        cache = super().from_prefix(prefix, batch, max_len)
        cache.row_positions[:] = prefix.length
        return cache

    def positions(self, new: int) -> torch.Tensor:
        if new != 1:
            raise ValueError("rows at their own positions take one token a step")
        if int(self.row_positions.max()) >= self.max_len:
            raise ValueError(f"a row exceeds the cache of {self.max_len} positions")
        return self.row_positions[:, None]

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.k[layer][self._rows, :, self.row_positions] = k[:, :, 0].to(CACHE_DTYPE)
        self.v[layer][self._rows, :, self.row_positions] = v[:, :, 0].to(CACHE_DTYPE)
        return self.k[layer], self.v[layer]

    def key_mask(self) -> torch.Tensor:
        """bool [B, 1, 1, T]: True for the keys a row must not see (past its position)."""
        return (self._key_positions[None, :] > self.row_positions[:, None])[:, None, None, :]

    def key_count(self, new: int) -> int:
        return self.max_len

    def advance(self, new: int) -> None:
        self.row_positions += self.stepping.to(torch.int64)

    def keep_rows(self, rows: torch.Tensor) -> None:
        super().keep_rows(rows)
        self.row_positions = self.row_positions.index_select(0, rows)
        self.stepping = self.stepping.index_select(0, rows)
        self._rows = torch.arange(len(rows))

    def copy_span(self, source: int, targets: list[int], start: int, end: int) -> None:
        """Positions [start, end) of row `source` into each row of `targets` (a chosen
        line becomes every sibling's context)."""
        if not targets or end <= start:
            return
        rows = torch.tensor(targets)
        for layer in range(len(self.k)):
            self.k[layer][rows, :, start:end] = self.k[layer][source, :, start:end]
            self.v[layer][rows, :, start:end] = self.v[layer][source, :, start:end]


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Causal grouped-query attention in the engine's fixed order (fixed_order.attend).

    q: [B, H, L, d] for the L newest positions; k, v: [B, Hkv, T, d] for all T positions
    (T >= L), float16 as a cache stores them (or float32), widened exactly to float32.
    Query head h reads key/value head h // (H // Hkv), as in Hugging Face's repeat_kv.
    `mask` (a RowCache's key_mask, L = 1): True for keys to hide. Returns [B, L, H * d].
    """
    return fixed_order.attend(q, k, v, mask)
