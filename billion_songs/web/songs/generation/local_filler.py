"""The pool filler of the one-machine shape: a background thread in the web process that
restores the in-memory pool from stored songs, then keeps it at its target by writing
batches of new ids, at low priority (it pauses between decoding steps while a visitor's
song is being written)."""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections

from billion_songs.web.songs.generation.filler import PoolFiller, new_song_ids
from billion_songs.web.songs.generation.memory_pool import MemoryPool
from billion_songs.web.songs.generation.writer import SongWriter

log = logging.getLogger(__name__)


class LocalFillerThread(threading.Thread):
    def __init__(self, *, pool: MemoryPool, writer: SongWriter, batch_size: int, idle_check: float = 5.0):
        super().__init__(name="song-pool-filler", daemon=True)
        self.pool = pool
        self.filler = PoolFiller(pool=pool, writer=writer)
        self.priority = writer.priority
        self.batch_size = batch_size
        self.idle_check = idle_check  # seconds between looks at a full pool
        self._stopping = threading.Event()
        self.restored = threading.Event()  # set once the restore from the database is done
        self.generated = 0

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self.pool.below_target.set()  # wake it up
        if self.is_alive():
            self.join(timeout)

    def run(self) -> None:
        try:
            restored = self.filler.restore()
            log.info("Random pool: restored %d stored songs (target %d)", restored, self.pool.target)
        except Exception:
            log.exception("Random pool: restore failed; filling from empty")
        finally:
            self.restored.set()
            close_old_connections()
        while not self._stopping.is_set():
            try:
                self.filler.flush_exhausted()
                if len(self.pool) >= self.pool.target:
                    self.pool.below_target.wait(self.idle_check)
                    continue
                self.generated += self.filler.fill(new_song_ids(self.batch_size), between_steps=self._between_steps)
            except _Stopped:
                break
            except Exception:
                log.exception("Random pool: a batch failed; retrying shortly")
                self._stopping.wait(5.0)
            finally:
                close_old_connections()  # this thread's connection, between batches
        self.filler.flush_exhausted()

    def _between_steps(self) -> None:
        while not self.priority.wait_for_visitors(timeout=0.5):
            if self._stopping.is_set():
                raise _Stopped
        if self._stopping.is_set():
            raise _Stopped


class _Stopped(Exception):
    """Raised from between_steps to abandon a batch when the server shuts down."""
