"""Make Random: which song a click goes to. It never waits for generation."""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections import defaultdict

from asgiref.sync import sync_to_async

from billion_songs.core.songwriting.plan import brief_for
from billion_songs.web.songs.data import selectors
from billion_songs.web.songs.generation.pool import Pool
from billion_songs.web.songs.data.tags import ANY, Narrowing

_FRESH_TRIES = 50_000  # a genre and a mood together match one id in 576: never all used


class _Voted:
    """One snapshot of the voted-up songs: ids with cumulative scores (for a weighted
    choice), overall and per genre and per mood."""

    def __init__(self, rows: list[selectors.VotedSong] = ()):
        self.rows = rows
        self.all = _weighted(rows)
        by_tag: dict[tuple[str, str], list[selectors.VotedSong]] = defaultdict(list)
        for row in rows:
            if row.genre:
                by_tag["genre", row.genre].append(row)
            if row.mood:
                by_tag["mood", row.mood].append(row)
        self._by_tag = {key: (tagged, _weighted(tagged)) for key, tagged in by_tag.items()}

    def candidates(self, narrowing: Narrowing) -> tuple[list[int], list[int]]:
        if not narrowing:
            return self.all
        kind, value = ("mood", narrowing.mood) if narrowing.mood else ("genre", narrowing.genre)
        rows, weighted = self._by_tag.get((kind, value), ((), ([], [])))
        if narrowing.mood and narrowing.genre:  # a few dozen rows at most: filter them now
            return _weighted([row for row in rows if row.genre == narrowing.genre])
        return weighted


def _weighted(rows) -> tuple[list[int], list[int]]:
    cumulative, total = [], 0
    for row in rows:
        total += row.score
        cumulative.append(total)
    return [row.song_id for row in rows], cumulative


class RandomSongs:
    """`voted_share` of the picks go to a voted-up song, weighted by net score, when
    there is one; the rest come from the pool; when the pool is dry, from any stored song;
    on an empty database, a brand-new id (its page streams while it is written).

    A pick may be narrowed to a genre and/or a mood (`/random?mood=sad`): every step above
    then considers only songs of that brief, and the brand-new id is one whose brief
    (a pure function of the id) has them."""

    def __init__(self, *, pool: Pool, voted_share: float, voted_refresh: float, voted_limit: int,
                 rng: random.Random | None = None):
        self.pool = pool
        self.voted_share = voted_share
        self.voted_refresh = voted_refresh  # seconds a snapshot of the scores is used
        self.voted_limit = voted_limit
        self._rng = rng or random.Random()
        self._voted = _Voted()
        self._voted_at = float("-inf")
        self._refreshing = threading.Lock()

    async def apick(self, narrowing: Narrowing = ANY) -> int:
        if self._voted_stale() and self._refreshing.acquire(blocking=False):
            # One request refreshes the snapshot; concurrent ones use the previous one.
            try:
                await sync_to_async(self.refresh_voted)()
            finally:
                self._refreshing.release()
        song_id = self._pick_in_memory(narrowing)
        if song_id is None:
            song_id = await sync_to_async(self._pick_stored)(narrowing)
        if song_id is None:
            # Off the thread that serves Django's synchronous work: this may take a few
            # dozen milliseconds (see _fresh_id) and needs no database.
            song_id = await sync_to_async(self._fresh_id, thread_sensitive=False)(narrowing)
        return song_id

    def pick_now(self, narrowing: Narrowing = ANY) -> int | None:
        """A pick that needs neither the database nor a thread: None when the voted-up
        snapshot is due for a refresh or the pool has no such song (the Django view
        handles those)."""
        if self._voted_stale():
            return None
        return self._pick_in_memory(narrowing)

    def pick(self, narrowing: Narrowing = ANY) -> int:
        """The same choice as `apick`, for synchronous callers."""
        if self._voted_stale():
            self.refresh_voted()
        song_id = self._pick_in_memory(narrowing)
        if song_id is None:
            song_id = self._pick_stored(narrowing)
        return self._fresh_id(narrowing) if song_id is None else song_id

    def refresh_voted(self) -> None:
        self._voted = _Voted(selectors.song_scores_voted_up(limit=self.voted_limit))
        self._voted_at = time.monotonic()

    def forget_voted(self) -> None:
        """Make the next pick re-read the voted-up songs (a song was hidden)."""
        self._voted = _Voted()
        self._voted_at = float("-inf")

    def _voted_stale(self) -> bool:
        return self.voted_share > 0 and time.monotonic() - self._voted_at >= self.voted_refresh

    def _pick_in_memory(self, narrowing: Narrowing) -> int | None:
        ids, cumulative = self._voted.candidates(narrowing)  # one consistent snapshot
        if ids and self._rng.random() < self.voted_share:
            return self._rng.choices(ids, cum_weights=cumulative)[0]
        return self.pool.take(genre=narrowing.genre, mood=narrowing.mood)

    def _pick_stored(self, narrowing: Narrowing) -> int | None:
        return selectors.song_random_stored_id(rng=self._rng, narrowing=narrowing)

    @staticmethod
    def _fresh_id(narrowing: Narrowing) -> int:
        """A never-seen id; its page streams while it is written (on its first visit).

        Narrowed, nothing pooled or stored has these tags (a new site, or a rare genre
        and mood together). A song's brief is a pure function of its id (`brief_for`)
        and the songwriting decoder writes every song to its brief, so an id drawn until
        its brief matches will be written with exactly this genre and mood. One id in 24
        has a given mood, one in 576 a given genre and mood; `brief_for` costs ~70 µs, so
        this takes ~2 ms, or ~40 ms for both. A model without a plan writes such an id
        as any other, without tags."""
        for _ in range(_FRESH_TRIES if narrowing else 1):
            song_id = secrets.randbits(64)
            if not narrowing:
                return song_id
            brief = brief_for(song_id)
            if narrowing.matches(genre=brief.genre, mood=brief.mood):
                return song_id
        return song_id  # unreachable in practice: (575/576)**50000 is about 1e-38
