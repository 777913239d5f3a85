"""Training and validation batches from the prepared token chunks.

A chunk is a run of whole songs (see chunking.py), at most block_size tokens. A batch is
`batch_size` chunks, right-padded to the longest one; padded positions are masked out of
attention and of the loss (label -100), so a short chunk costs compute but not accuracy.

The training order is an epoch-by-epoch permutation keyed by (seed, epoch): every chunk is
seen once per epoch, and the sampler's whole state is two integers, which a checkpoint
stores so that a resumed run sees exactly the batches the uninterrupted run would have.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from billion_songs.core.tuning.dataset import TokenChunks

IGNORE = -100  # label of a position that is not scored (the PyTorch/HF cross-entropy default)


@dataclass
class Batch:
    input_ids: torch.Tensor  # (B, T) int64, right-padded
    attention_mask: torch.Tensor  # (B, T) int64, 1 for real tokens
    labels: torch.Tensor  # (B, T) int64: input_ids with padding set to IGNORE

    @property
    def tokens(self) -> int:
        """Real (unpadded) tokens in the batch."""
        return int(self.attention_mask.sum())

    def to(self, device: torch.device) -> Batch:
        return Batch(*(t.to(device, non_blocking=True) for t in (self.input_ids, self.attention_mask, self.labels)))


def collate(chunks: list[np.ndarray], block_size: int, pad_id: int) -> Batch:
    """Stack chunks (each cut to block_size tokens) into one padded batch."""
    rows = [np.asarray(chunk[:block_size], dtype=np.int64) for chunk in chunks]
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.int64)  # (B, T)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.int64)  # (B, T)
    for i, row in enumerate(rows):
        input_ids[i, : len(row)] = torch.from_numpy(row)
        attention_mask[i, : len(row)] = 1
    labels = input_ids.masked_fill(attention_mask == 0, IGNORE)
    return Batch(input_ids, attention_mask, labels)


@dataclass
class ChunkSampler:
    """Endless training batches: chunks in a fresh permutation each epoch."""

    chunks: TokenChunks
    batch_size: int
    block_size: int
    pad_id: int
    seed: int
    epoch: int = 0  # epochs completed
    cursor: int = 0  # position in this epoch's permutation

    def __post_init__(self):
        if len(self.chunks) == 0:
            raise ValueError("the training split has no chunks")
        self._order = self._permutation(self.epoch)

    def _permutation(self, epoch: int) -> np.ndarray:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(len(self.chunks), generator=generator).numpy()

    def next_batch(self) -> Batch:
        picked: list[np.ndarray] = []
        while len(picked) < self.batch_size:
            if self.cursor == len(self._order):
                self.epoch, self.cursor = self.epoch + 1, 0
                self._order = self._permutation(self.epoch)
            picked.append(self.chunks[int(self._order[self.cursor])])
            self.cursor += 1
        return collate(picked, self.block_size, self.pad_id)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "cursor": self.cursor}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.cursor = int(state["epoch"]), int(state["cursor"])
        self._order = self._permutation(self.epoch)


def fixed_batches(chunks: TokenChunks, batch_size: int, block_size: int, pad_id: int,
                  max_batches: int | None = None) -> list[Batch]:
    """The first `max_batches` batches of `chunks` in order: the same validation set at
    every evaluation, so successive losses are comparable."""
    count = len(chunks) if max_batches is None else min(len(chunks), max_batches * batch_size)
    return [
        collate([chunks[i] for i in range(start, min(start + batch_size, count))], block_size, pad_id)
        for start in range(0, count, batch_size)
    ]
