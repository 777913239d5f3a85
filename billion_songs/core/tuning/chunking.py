"""Bundling tokenized songs into training chunks of at most `block_size` tokens.

Songs are packed greedily in order. A song that does not fit in the open chunk closes it
and starts the next one, so a chunk boundary never cuts a song and never drops one (the
original script lost the song at every boundary). A song longer than a whole chunk is
either split into block-sized pieces (the first keeps its title, the last its
`<|endoftext|>`, and the remainder opens the next chunk like any song) or skipped; both
are counted.

Chunks are stored back to back in one token array plus an offsets array, so the token
order is exactly the songs' order and only the offsets depend on the packing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

SPLIT = "split"  # a too-long song is cut into block-sized pieces
SKIP = "skip"  # a too-long song is left out
LONG_SONG_POLICIES = (SPLIT, SKIP)


@dataclass
class Chunks:
    tokens: np.ndarray  # (n_tokens,) every chunk's tokens, back to back
    offsets: np.ndarray  # (n_chunks + 1,) int64: chunk i is tokens[offsets[i]:offsets[i + 1]]
    songs: int  # songs written (split ones included)
    long_split: int  # songs longer than block_size that were split
    long_skipped: int  # songs longer than block_size that were left out

    @property
    def n_chunks(self) -> int:
        return len(self.offsets) - 1

    def chunk(self, index: int) -> np.ndarray:
        return self.tokens[self.offsets[index] : self.offsets[index + 1]]


def pack_songs(
    songs: Iterable[list[int]], block_size: int, *, long_songs: str = SPLIT, dtype=np.uint32
) -> Chunks:
    """Pack token lists (one per song, markers included) into chunks of <= block_size."""
    if block_size < 1:
        raise ValueError(f"block_size must be positive, got {block_size}")
    if long_songs not in LONG_SONG_POLICIES:
        raise ValueError(f"long_songs must be one of {LONG_SONG_POLICIES}, got {long_songs!r}")
    pieces: list[np.ndarray] = []
    offsets = [0]
    total = 0  # tokens written so far
    fill = 0  # tokens in the open chunk
    written = split = skipped = 0
    for ids in songs:
        n = len(ids)
        if n > block_size and long_songs == SKIP:
            skipped += 1
            continue
        if fill and fill + n > block_size:
            offsets.append(total)  # close the open chunk; this song starts the next
            fill = 0
        if n > block_size:
            split += 1
            full, fill = divmod(n, block_size)
            offsets.extend(total + k * block_size for k in range(1, full + 1))
        else:
            fill += n
        pieces.append(np.asarray(ids, dtype=dtype))
        total += n
        written += 1
    if fill:
        offsets.append(total)
    tokens = np.concatenate(pieces) if pieces else np.zeros(0, dtype=dtype)
    return Chunks(tokens, np.asarray(offsets, dtype=np.int64), written, split, skipped)


def token_dtype(vocab_size: int) -> type:
    """The smallest unsigned integer type that holds every id (uint16 for GPT-2)."""
    return np.uint16 if vocab_size <= 2**16 else np.uint32
