"""The copy check: does a tune share a run of intervals with any corpus tune?

A run of RUN intervals (RUN + 1 notes) is hashed to 32 bits; data/copy_index.npz holds
the sorted hashes of every such run in the corpus (scripts/build_melody_model.py). A hit
means a run of at least RUN + 1 notes is shared (or, rarely, a hash collision: the check
errs on the side of calling it a copy). Intervals, not pitches: a copy in another key is
still a copy. The composer redraws a line that would copy; the eval counts what is left.
"""

from __future__ import annotations

import zlib
from functools import cache
from importlib import resources

import numpy as np

RUN = 8  # intervals, i.e. 9 notes: the issue allows a shared run of at most 8 notes


def interval_hashes(pitches) -> list[int]:
    """The hash of each run of RUN intervals in `pitches`, in order."""
    packed = bytes(max(-127, min(127, b - a)) & 0xFF for a, b in zip(pitches, pitches[1:]))
    return [zlib.crc32(packed[i:i + RUN]) for i in range(len(packed) - RUN + 1)]


@cache
def corpus_index() -> np.ndarray:
    data = resources.files("billion_songs.core.melody") / "data" / "copy_index.npz"
    with resources.as_file(data) as path, np.load(path) as index:
        return index["hashes"]


@cache
def corpus_set() -> frozenset[int]:
    """The index as a set, for the composer's note-by-note check (built once, ~30 ms)."""
    return frozenset(corpus_index().tolist())


def copies_corpus(last_pitches) -> bool:
    """Whether the run of RUN + 1 notes ending `last_pitches` is in a corpus tune."""
    if len(last_pitches) < RUN + 1:
        return False
    hashes = interval_hashes(last_pitches[-RUN - 1:])
    return hashes[0] in corpus_set()


def shared_runs(pitches) -> int:
    """How many runs of RUN + 1 notes of `pitches` also occur in some corpus tune."""
    hashes = interval_hashes(pitches)
    if not hashes:
        return 0
    index = corpus_index()
    wanted = np.array(hashes, dtype=np.uint32)
    found = np.minimum(np.searchsorted(index, wanted), len(index) - 1)
    return int(np.count_nonzero(index[found] == wanted))
