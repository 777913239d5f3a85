"""The random pool in this process's memory (the one-machine shape; see pool.py).

The pool holds song *ids* only; the songs themselves are stored rows (written by the
filler before their ids enter the pool), so a pooled song's page is an ordinary stored
page, cached like any other. Each id carries its serves left and its genre and mood, as
one byte each, so that Make Random can be narrowed (`/random?mood=sad`): 50,000 ids in
flat arrays take about 580 kB.

Scaled out, `redis_pool.RedisPool` takes its place: a Redis set shared by the web
processes and filled by Celery workers, behind the same `Pool` protocol.
"""

from __future__ import annotations

import random
import threading
from array import array
from collections.abc import Callable, Iterable

from billion_songs.core.songwriting.plan import GENRES, MOODS
from billion_songs.web.songs.data.tags import PoolEntry

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


class MemoryPool:
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

    def flush_exhausted(self, mark: Callable[[list[int]], object]) -> int:
        """Hand the served-out ids to `mark` (which marks them in the database); if it
        raises (the database is down), they are kept for the next flush."""
        with self._lock:
            exhausted, self._exhausted = self._exhausted, []
        if exhausted:
            try:
                mark(exhausted)
            except Exception:
                with self._lock:
                    self._exhausted[:0] = exhausted
                raise
        return len(exhausted)

    def _update_below_target(self) -> None:
        if len(self._ids) < self.target:
            self.below_target.set()
        else:
            self.below_target.clear()
