"""The random pool: songs written ahead of time so that Make Random never waits.

The pool holds song *ids* only; the songs themselves are stored rows (written by the
filler before their ids enter the pool), so a pooled song's page is an ordinary stored
page, cached like any other. Each id carries its serves left and its genre and mood, as
one byte each, so that Make Random can be narrowed (`/random?mood=sad`): 50,000 ids in
flat arrays take about 580 kB.

Scaled out, `shared/pool.py`'s `RedisSongPool` takes its place: a Redis set shared by the
web processes and filled by Celery workers, behind the same add/take/discard/len.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
from array import array
from collections.abc import Iterable

from django.db import close_old_connections

from billion_songs.core.interface import LyricsGenerator
from billion_songs.core.songwriting.plan import GENRES, MOODS
from billion_songs.web.songs import selectors, services
from billion_songs.web.songs.priority import VisitorsFirst
from billion_songs.web.songs.tags import PoolEntry

log = logging.getLogger(__name__)

# Tag bytes: two per pooled song, its mood then its genre. Moods are coded below 128 and
# genres from 128 up, so a one-byte search for a mood can only land on mood bytes, one
# for a genre only on genre bytes, and a two-byte search (mood, genre) only on one song's
# pair: bytearray.find (memchr, C speed) is the index.
_NO_MOOD, _NO_GENRE = 0, 128  # tags unknown (a song without a brief): never matched
_MOOD_CODES = {mood: 1 + i for i, mood in enumerate(MOODS)}
_GENRE_CODES = {genre: 129 + i for i, genre in enumerate(GENRES)}
assert len(MOODS) < 128 and len(GENRES) < 128


def _tag_pattern(*, genre: str, mood: str) -> bytes | None:
    """The bytes that mark a matching song, or None for a value no song can have."""
    pattern = b""
    if mood:
        if mood not in _MOOD_CODES:
            return None
        pattern += bytes((_MOOD_CODES[mood],))
    if genre:
        if genre not in _GENRE_CODES:
            return None
        pattern += bytes((_GENRE_CODES[genre],))
    return pattern


class SongPool:
    """Song ids, each served up to `serves` times; thread-safe, O(1) take. A take narrowed
    to a genre and/or mood searches the tag bytes from a random point: a C-speed scan of
    two bytes per song (about 100 kB for 50,000), not a Python loop."""

    def __init__(self, *, target: int, serves: int, rng: random.Random | None = None):
        if not 1 <= serves <= 255:
            raise ValueError("serves must be in [1, 255]")
        self.target = target
        self.serves = serves
        self._ids = array("Q")  # unsigned 64-bit: song ids
        self._left = bytearray()  # serves left, parallel to _ids
        self._tags = bytearray()  # mood and genre codes, two bytes per id
        self._exhausted: list[int] = []  # served out, waiting to be marked in the database
        self._lock = threading.Lock()
        self._rng = rng or random.Random()
        self.below_target = threading.Event()  # wakes the filler
        self.below_target.set()

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, songs: Iterable[int | PoolEntry]) -> int:
        """Add songs with a full count of serves: bare ids (no tags) or PoolEntry (id,
        genre, mood); returns how many. Callers add each id once: the restore runs before
        the first batch, and the filler pools only ids that it has just stored (no
        membership set: it would take 10 times the RAM)."""
        ids, tags = array("Q"), bytearray()
        for song in songs:
            if isinstance(song, int):
                ids.append(song)
                tags += bytes((_NO_MOOD, _NO_GENRE))
            else:
                ids.append(song.id)
                tags += bytes((_MOOD_CODES.get(song.mood, _NO_MOOD), _GENRE_CODES.get(song.genre, _NO_GENRE)))
        with self._lock:
            self._ids.extend(ids)
            self._left.extend(bytes([self.serves]) * len(ids))
            self._tags.extend(tags)
            self._update_below_target()
            return len(ids)

    def take(self, *, genre: str = "", mood: str = "") -> int | None:
        """A random pooled id (of that genre and mood, when given), or None when the pool
        has none. An id served its last time leaves the pool (swap with the last element
        and pop: O(1)). A narrowed take is the first match at or after a random position
        (wrapping around): a song after a long run of non-matching ones comes up a little
        more often, as in the database fallback."""
        with self._lock:
            count = len(self._ids)
            if not count:
                return None
            if not genre and not mood:
                return self._serve(self._rng.randrange(count))
            pattern = _tag_pattern(genre=genre, mood=mood)
            if pattern is None:
                return None
            at = self._tags.find(pattern, 2 * self._rng.randrange(count))
            if at < 0:
                at = self._tags.find(pattern)
            return None if at < 0 else self._serve(at // 2)

    def _serve(self, i: int) -> int:
        song_id = self._ids[i]
        self._left[i] -= 1
        if self._left[i] == 0:
            self._remove_at(i)
            self._exhausted.append(song_id)
            self._update_below_target()
        return song_id

    def _remove_at(self, i: int) -> None:
        last = len(self._ids) - 1
        self._ids[i] = self._ids[last]
        self._left[i] = self._left[last]
        self._tags[2 * i : 2 * i + 2] = self._tags[2 * last : 2 * last + 2]
        self._ids.pop()
        self._left.pop()
        del self._tags[-2:]

    def discard(self, song_ids) -> int:
        """Take ids out of the pool now (a moderator hid them); returns how many were in
        it. A linear scan, which is fine for a rare admin action: 50,000 ids in a few ms."""
        unwanted = set(song_ids)
        removed = 0
        with self._lock:
            i = 0
            while i < len(self._ids):
                if self._ids[i] in unwanted:
                    self._remove_at(i)
                    removed += 1
                else:
                    i += 1
            self._update_below_target()
        return removed

    def drain_exhausted(self) -> list[int]:
        with self._lock:
            exhausted, self._exhausted = self._exhausted, []
        return exhausted

    def exhausted_again(self, song_ids: list[int]) -> None:
        """Put drained ids back (marking them in the database failed)."""
        with self._lock:
            self._exhausted[:0] = song_ids

    def _update_below_target(self) -> None:
        if len(self._ids) < self.target:
            self.below_target.set()
        else:
            self.below_target.clear()


class PoolFiller(threading.Thread):
    """Background thread: restore the pool from stored songs, then keep it at its target
    by generating batches of random new ids, at low priority (it pauses between decoding
    steps while a visitor's song is being written)."""

    def __init__(self, *, pool: SongPool, generator: LyricsGenerator, priority: VisitorsFirst,
                 batch_size: int, idle_check: float = 5.0):
        super().__init__(name="song-pool-filler", daemon=True)
        self.pool = pool
        self.generator = generator
        self.priority = priority
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
            restored = pool_restore(pool=self.pool)
            log.info("Random pool: restored %d stored songs (target %d)", restored, self.pool.target)
        except Exception:
            log.exception("Random pool: restore failed; filling from empty")
        finally:
            self.restored.set()
            close_old_connections()
        while not self._stopping.is_set():
            try:
                self._flush_exhausted()
                if len(self.pool) >= self.pool.target:
                    self.pool.below_target.wait(self.idle_check)
                    continue
                self._fill_one_batch()
            except _Stopped:
                break
            except Exception:
                log.exception("Random pool: a batch failed; retrying shortly")
                self._stopping.wait(5.0)
            finally:
                close_old_connections()  # this thread's connection, between batches
        self._flush_exhausted()

    def _between_steps(self) -> None:
        while not self.priority.wait_for_visitors(timeout=0.5):
            if self._stopping.is_set():
                raise _Stopped
        if self._stopping.is_set():
            raise _Stopped

    def _fill_one_batch(self) -> None:
        # Fresh ids, uniformly from the whole id space; ids already stored are skipped
        # (a stored song is never regenerated).
        candidates = [secrets.randbits(64) for _ in range(self.batch_size)]
        stored = selectors.song_ids_stored(song_ids=candidates)
        ids = [i for i in candidates if i not in stored]
        songs = self.generator.generate(ids, between_steps=self._between_steps)
        self.pool.add(services.songs_store_for_pool(songs=songs))  # the good ones, with their tags
        self.generated += len(songs)

    def _flush_exhausted(self) -> None:
        exhausted = self.pool.drain_exhausted()
        if exhausted:
            try:
                services.songs_leave_pool(song_ids=exhausted)
            except Exception:
                self.pool.exhausted_again(exhausted)  # the database is down: next round
                raise


class _Stopped(Exception):
    """Raised from between_steps to abandon a batch when the server shuts down."""


def pool_restore(*, pool: SongPool) -> int:
    """Put stored, not yet served-out pooled songs back into the pool, with their tags
    (never a failed or hidden song). Their serve counts start afresh: a restart can serve
    a song up to `serves` more times."""
    return pool.add(selectors.song_pool_entries(limit=pool.target))
