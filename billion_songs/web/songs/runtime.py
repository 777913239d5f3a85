"""The process-wide song machinery, built once: the generator, the single-flight source,
the pool, its filler and the Make Random picker.

Two shapes, chosen by settings.SONG_WORKERS. On one machine (the default) the web process
holds the model: an in-process source, pool and filler. Scaled out (REDIS_URL, workers
started with `billion-songs worker`) it holds no model: the source asks the workers
through Redis and Celery, and the pool is the shared one in Redis that they fill.

`billion-songs serve` calls `start()` before accepting requests, so the model is loaded
(and on a fresh machine prepared, with progress on the terminal) up front. Under other
servers (runserver, tests) `get()` builds it on first use. Nothing here runs at import.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from django.conf import settings

from billion_songs.core.interface import LyricsGenerator
from billion_songs.web.songs.generation import generator_load
from billion_songs.web.songs.picker import RandomSongs
from billion_songs.web.songs.pool import PoolFiller, SongPool
from billion_songs.web.songs.priority import VisitorsFirst
from billion_songs.web.songs.shared.flights import RemoteSongSource
from billion_songs.web.songs.shared.pool import RedisSongPool
from billion_songs.web.songs.source import SongSource

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    generator: LyricsGenerator | None  # None: songs are written by Celery workers
    priority: VisitorsFirst
    source: SongSource | RemoteSongSource
    pool: SongPool | RedisSongPool
    random: RandomSongs
    filler: PoolFiller | None = None

    @classmethod
    def build(cls, generator: LyricsGenerator) -> Runtime:
        priority = VisitorsFirst()
        pool = SongPool(target=settings.SONG_POOL_TARGET, serves=settings.SONG_POOL_SERVES)
        return cls(
            generator=generator,
            priority=priority,
            source=SongSource(generator=generator, priority=priority,
                              generations_at_once=settings.SONG_GENERATIONS_AT_ONCE),
            pool=pool,
            random=_random_songs(pool),
        )

    @classmethod
    def build_shared(cls) -> Runtime:
        """For a web process of a scaled-out site: no model, everything shared in Redis."""
        pool = RedisSongPool(target=settings.SONG_POOL_TARGET, serves=settings.SONG_POOL_SERVES)
        return cls(
            generator=None,
            priority=VisitorsFirst(),
            source=RemoteSongSource(patience=settings.SONG_FLIGHT_PATIENCE),
            pool=pool,
            random=_random_songs(pool),
        )

    def start_filler(self) -> PoolFiller:
        """Restore the pool from stored songs and keep it filled, in a background thread."""
        if self.generator is None:
            raise RuntimeError("a web process without a model does not fill the pool: the workers do")
        if self.filler is None:
            self.filler = PoolFiller(pool=self.pool, generator=self.generator, priority=self.priority,
                                     batch_size=settings.SONG_POOL_BATCH)
            self.filler.start()
        return self.filler

    def stop(self) -> None:
        if self.filler is not None:
            self.filler.stop()


def _random_songs(pool: SongPool | RedisSongPool) -> RandomSongs:
    return RandomSongs(pool=pool, voted_share=settings.RANDOM_VOTED_SHARE,
                       voted_refresh=settings.RANDOM_VOTED_REFRESH, voted_limit=settings.RANDOM_VOTED_LIMIT)


_runtime: Runtime | None = None
_lock = threading.Lock()


def peek() -> Runtime | None:
    """The runtime if it is built, without building it (for the ASGI fast path)."""
    return _runtime


def get() -> Runtime:
    """The process's runtime, built on first use when `start()` was not called."""
    return _runtime or start()


def start(*, model: str | None = None, threads: int | None = None, fill: bool | None = None) -> Runtime:
    """Build the runtime now: with workers, the shared one; otherwise load the generator
    and start the pool filler (unless disabled)."""
    global _runtime
    with _lock:
        if _runtime is None:
            if settings.SONG_WORKERS:
                _runtime = Runtime.build_shared()
            else:
                _runtime = Runtime.build(generator_load(model=model, threads=threads))
                if settings.SONG_POOL_FILL if fill is None else fill:
                    _runtime.start_filler()
    return _runtime


def install(runtime: Runtime | None) -> Runtime | None:
    """Replace the process's runtime (tests); returns the previous one, not stopped."""
    global _runtime
    with _lock:
        previous, _runtime = _runtime, runtime
    return previous
