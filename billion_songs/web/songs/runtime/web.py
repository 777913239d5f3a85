"""The song machinery of a web process, wired once: the flights (one generation per id),
the random pool, its filler and the Make Random picker.

Two shapes, chosen by settings.SONG_WORKERS. On one machine (the default) the web process
holds the model: local flights, an in-memory pool and a filler thread, all writing with
one `SongWriter`. Scaled out (REDIS_URL, workers started with `billion-songs worker`) it
holds no model: the flights ask the workers through Redis and Celery, and the pool is the
shared one in Redis that they fill.

`billion-songs serve` calls `start()` before accepting requests, so the model is loaded
(and on a fresh machine prepared, with progress on the terminal) up front. Under other
servers (runserver, tests) `get()` builds it on first use. Nothing here runs at import.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from django.conf import settings
from django.dispatch import receiver

from billion_songs.core.interface import LyricsGenerator
from billion_songs.web.songs.data.events import songs_visibility_changed
from billion_songs.web.songs.generation.factory import generator_load
from billion_songs.web.songs.generation.flights import Flights
from billion_songs.web.songs.generation.local_filler import LocalFillerThread
from billion_songs.web.songs.generation.local_flights import LocalFlights
from billion_songs.web.songs.generation.memory_pool import MemoryPool
from billion_songs.web.songs.generation.picker import RandomSongs
from billion_songs.web.songs.generation.pool import Pool
from billion_songs.web.songs.generation.redis_flights import RedisFlights
from billion_songs.web.songs.generation.redis_pool import RedisPool
from billion_songs.web.songs.generation.writer import SongWriter

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    writer: SongWriter | None  # None: songs are written by Celery workers
    flights: Flights
    pool: Pool
    random: RandomSongs
    filler: LocalFillerThread | None = None

    @property
    def generator(self) -> LyricsGenerator | None:
        return self.writer.generator if self.writer is not None else None

    @classmethod
    def build(cls, generator: LyricsGenerator) -> Runtime:
        """For a web process that holds the model."""
        writer = SongWriter(generator=generator, at_once=settings.SONG_GENERATIONS_AT_ONCE)
        pool = MemoryPool(target=settings.SONG_POOL_TARGET, serves=settings.SONG_POOL_SERVES)
        return cls(writer=writer, flights=LocalFlights(writer=writer), pool=pool, random=_random_songs(pool))

    @classmethod
    def build_shared(cls) -> Runtime:
        """For a web process of a scaled-out site: no model, everything shared in Redis."""
        pool = RedisPool(target=settings.SONG_POOL_TARGET, serves=settings.SONG_POOL_SERVES)
        return cls(writer=None, flights=RedisFlights(patience=settings.SONG_FLIGHT_PATIENCE), pool=pool,
                   random=_random_songs(pool))

    def start_filler(self) -> LocalFillerThread:
        """Restore the pool from stored songs and keep it filled, in a background thread."""
        if self.writer is None:
            raise RuntimeError("a web process without a model does not fill the pool: the workers do")
        if self.filler is None:
            self.filler = LocalFillerThread(pool=self.pool, writer=self.writer, batch_size=settings.SONG_POOL_BATCH)
            self.filler.start()
        return self.filler

    def stop(self) -> None:
        if self.filler is not None:
            self.filler.stop()


def _random_songs(pool: Pool) -> RandomSongs:
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


@receiver(songs_visibility_changed, dispatch_uid="songs-runtime-visibility")
def _visibility_changed(sender, song_ids: list[int], hidden: bool, **kwargs) -> None:
    """A moderator hid songs (or showed them again): out of the pool, and the next Make
    Random re-reads the voted-up songs. Scaled out, the pool is shared: take the songs out
    of it even if this process has not built its (model-free, cheap) runtime yet."""
    current = get() if settings.SONG_WORKERS else peek()
    if current is not None:
        if hidden:
            current.pool.discard(song_ids)
        current.random.forget_voted()
