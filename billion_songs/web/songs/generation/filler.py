"""Filling a pool, for both shapes (the in-process filler thread, local_filler.py, and a
Celery worker, runtime/worker.py): restore it from stored songs after a start, write
batches of new songs into it, mark served-out songs in the database."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence

from billion_songs.web.songs.data import selectors, services
from billion_songs.web.songs.generation.pool import Pool
from billion_songs.web.songs.generation.writer import SongWriter


def new_song_ids(count: int) -> list[int]:
    """Fresh ids, uniformly from the whole id space (the ones already stored are skipped
    when the batch is written)."""
    return [secrets.randbits(64) for _ in range(count)]


class PoolFiller:
    def __init__(self, *, pool: Pool, writer: SongWriter):
        self.pool = pool
        self.writer = writer

    def restore(self) -> int:
        """Put stored, not yet served-out pooled songs back into the pool, with their tags
        (never a failed or hidden song): the newest ones, up to the target. Their serve
        counts start afresh: a restart can serve a song up to `serves` more times."""
        return self.pool.add(selectors.song_pool_entries(limit=self.pool.target))

    def fill(self, song_ids: Sequence[int], *, between_steps: Callable[[], None]) -> int:
        """Write a batch (the ids not stored yet) into the pool; returns the songs written."""
        batch = self.writer.write_batch(song_ids, between_steps=between_steps)
        self.pool.add(batch.pooled)
        return batch.written

    def flush_exhausted(self) -> int:
        """Mark the songs served their last time in the database (`in_pool=False`), so
        that a restore does not bring them back."""
        return self.pool.flush_exhausted(lambda song_ids: services.songs_leave_pool(song_ids=song_ids))
