"""The random pool: songs written ahead of time so that Make Random never waits. It holds
song *ids* only (each written and stored before it enters the pool, so a pooled song's
page is an ordinary stored page) with the tags that narrow Make Random, and serves each
id a few times.

Two implementations stand behind the `Pool` protocol: `memory_pool.MemoryPool` (one
process: flat arrays in memory) and `redis_pool.RedisPool` (scaled out: shared by every
web process, filled by the Celery workers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from billion_songs.web.songs.data.tags import PoolEntry


class Pool(Protocol):
    target: int  # the filler keeps this many ids in the pool
    serves: int  # times each id is served before it leaves

    def __len__(self) -> int: ...

    def add(self, songs: Iterable[int | PoolEntry]) -> int:
        """Add songs with a full count of serves: bare ids (no tags) or `PoolEntry`."""

    def take(self, *, genre: str = "", mood: str = "") -> int | None:
        """A pooled id (of that genre and mood, when given), or None when there is none."""

    def discard(self, song_ids: Iterable[int]) -> int:
        """Take ids out of the pool now (a moderator hid them)."""

    def flush_exhausted(self, mark: Callable[[list[int]], object]) -> int:
        """Hand the ids served their last time to `mark`; kept for later if it raises."""
