"""Whether song ids are stored, asked of the database together: the ASGI front's look
before it refuses a never-seen id (fast_path.py; a stored id gets its page, not a refusal).

A flood of new ids asks this once per request it refuses. One query per request (a hop to
a thread, a connection from the pool, Django compiling the query) held the GIL for about a
millisecond each, and with it the event loop, where the stored pages others read are
answered (bench/bench_flood.py --scaled). Here a look that finds a query running waits
for the next one, which asks for every id waiting: one query at a time per event loop,
however many requests ask.
"""

from __future__ import annotations

import asyncio
import itertools

from billion_songs.web.songs.data import reading, selectors
from billion_songs.web.songs.data.per_loop import PerLoop

# Ids asked in one query at most (a flood's requests in one process are far fewer: they are
# bounded by uvicorn's limit_concurrency).
BATCH = 500


def _stored_among(song_ids: list[int]) -> set[int] | None:
    """The stored ones among `song_ids`; None when the database cannot say (Django
    answers then, with its 503 page when the database is away). Run by `reading.read`,
    which hands the connection back when it returns."""
    try:
        return selectors.song_ids_stored(song_ids=song_ids)
    except Exception:
        return None


class StoredLooks:
    """The looks of one event loop (`looks()` gives the running loop's)."""

    def __init__(self):
        self._waiting: dict[int, list[asyncio.Future]] = {}
        self._running = False

    async def stored(self, song_id: int) -> bool | None:
        """Whether `song_id` is stored; None when the database cannot say."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(song_id, []).append(future)
        if not self._running:
            self._running = True
            asyncio.get_running_loop().create_task(self._ask())
        return await future

    async def _ask(self) -> None:
        batch: dict[int, list[asyncio.Future]] = {}
        try:
            while self._waiting:
                batch = dict(itertools.islice(self._waiting.items(), BATCH))
                for song_id in batch:
                    del self._waiting[song_id]
                found = await reading.read(_stored_among, list(batch))
                for song_id, futures in batch.items():
                    _answer(futures, None if found is None else song_id in found)
                batch = {}
        finally:  # cancelled with its loop, or failed: nobody waits for ever
            self._running = False
            for futures in (*batch.values(), *self._waiting.values()):
                _answer(futures, None)
            self._waiting.clear()


def _answer(futures: list[asyncio.Future], answer: bool | None) -> None:
    for future in futures:
        if not future.done():  # a visitor who left cancelled theirs
            future.set_result(answer)


_looks: PerLoop[StoredLooks] = PerLoop(StoredLooks)  # futures belong to one loop


def looks() -> StoredLooks:
    """The running event loop's looks."""
    return _looks.get()
