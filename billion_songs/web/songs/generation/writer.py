"""The one place that writes songs with the model and stores them, for both shapes: the
in-process flights and pool filler, and a Celery worker's tasks."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import NamedTuple

from billion_songs.core.interface import Finished, LyricsGenerator, StreamEvent
from billion_songs.web.songs.data import selectors, services
from billion_songs.web.songs.data.models import Song
from billion_songs.web.songs.data.tags import PoolEntry
from billion_songs.web.songs.generation.priority import VisitorsFirst


class BatchWritten(NamedTuple):
    pooled: list[PoolEntry]  # the good songs, with their tags (a failed song is stored, never pooled)
    written: int  # songs written, failed ones included


class SongWriter:
    """Writes and stores one song for a visitor (`write`), or a batch for the pool
    (`write_batch`). A visitor's song goes first: a batch pauses between decoding steps
    while one is being written (`priority`). `at_once` bounds the visitors' songs written
    together (a crawler walking new ids must not start hundreds); the others wait."""

    def __init__(self, *, generator: LyricsGenerator, priority: VisitorsFirst | None = None,
                 at_once: int | None = None):
        self.generator = generator
        self.priority = priority or VisitorsFirst()
        self._slots = threading.BoundedSemaphore(at_once) if at_once else nullcontext()

    def write(self, song_id: int, *, publish: Callable[[StreamEvent], None],
              begin: Callable[[], None] = lambda: None) -> tuple[Song, bool]:
        """The stored song `song_id`, and True if it was written now. One stored meanwhile
        (by an earlier flight, another process or the pool filler) is returned as it is:
        an id is never generated twice. Before writing, `begin()`; while writing, each
        engine event (`TextDelta`, `Restart`) goes to `publish`. Raises if the engine does."""
        with self.priority.visitor(), self._slots:
            song = selectors.song_get(song_id=song_id)
            if song is not None:
                return song, False
            begin()
            for event in self.generator.stream(song_id):
                if isinstance(event, Finished):
                    return services.song_store(song=event.song), True
                publish(event)
        raise RuntimeError("the generator's stream ended without a Finished event")

    def write_batch(self, song_ids: Sequence[int], *, between_steps: Callable[[], None]) -> BatchWritten:
        """Write the ids not stored yet (a stored song is never written again) and store
        them for the pool. `between_steps` runs between decoding steps and may block."""
        stored = selectors.song_ids_stored(song_ids=list(song_ids))
        todo = [song_id for song_id in song_ids if song_id not in stored]
        if not todo:
            return BatchWritten([], 0)
        songs = self.generator.generate(todo, between_steps=between_steps)
        return BatchWritten(services.songs_store_for_pool(songs=songs), len(songs))
