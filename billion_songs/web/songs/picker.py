"""Make Random: which song a click goes to. It never waits for generation."""

from __future__ import annotations

import random
import secrets
import threading
import time

from asgiref.sync import sync_to_async

from billion_songs.web.songs import selectors
from billion_songs.web.songs.pool import SongPool


class RandomSongs:
    """`voted_share` of the picks go to a voted-up song, weighted by net score, when
    there is one; the rest come from the pool; when the pool is dry, from any stored song;
    on an empty database, a brand-new id (its page streams while it is written)."""

    def __init__(self, *, pool: SongPool, voted_share: float, voted_refresh: float, voted_limit: int,
                 rng: random.Random | None = None):
        self.pool = pool
        self.voted_share = voted_share
        self.voted_refresh = voted_refresh  # seconds a snapshot of the scores is used
        self.voted_limit = voted_limit
        self._rng = rng or random.Random()
        self._voted_ids: list[int] = []
        self._voted_cumulative: list[int] = []  # cumulative scores, for weighted choice
        self._voted_at = float("-inf")
        self._refreshing = threading.Lock()

    async def apick(self) -> int:
        if self._voted_stale() and self._refreshing.acquire(blocking=False):
            # One request refreshes the snapshot; concurrent ones use the previous one.
            try:
                await sync_to_async(self.refresh_voted)()
            finally:
                self._refreshing.release()
        song_id = self._pick_in_memory()
        if song_id is None:
            song_id = await sync_to_async(self._pick_stored)()
        return song_id

    def pick_now(self) -> int | None:
        """A pick that needs neither the database nor a thread: None when the voted-up
        snapshot is due for a refresh or the pool is dry (the Django view handles those)."""
        if self._voted_stale():
            return None
        return self._pick_in_memory()

    def pick(self) -> int:
        """The same choice as `apick`, for synchronous callers."""
        if self._voted_stale():
            self.refresh_voted()
        song_id = self._pick_in_memory()
        return self._pick_stored() if song_id is None else song_id

    def refresh_voted(self) -> None:
        scores = selectors.song_scores_voted_up(limit=self.voted_limit)
        cumulative, total = [], 0
        for _, score in scores:
            total += score
            cumulative.append(total)
        self._voted_ids, self._voted_cumulative = [song_id for song_id, _ in scores], cumulative
        self._voted_at = time.monotonic()

    def forget_voted(self) -> None:
        """Make the next pick re-read the voted-up songs (a song was hidden)."""
        self._voted_ids, self._voted_cumulative = [], []
        self._voted_at = float("-inf")

    def _voted_stale(self) -> bool:
        return self.voted_share > 0 and time.monotonic() - self._voted_at >= self.voted_refresh

    def _pick_in_memory(self) -> int | None:
        ids, cumulative = self._voted_ids, self._voted_cumulative  # one consistent snapshot
        if ids and self._rng.random() < self.voted_share:
            return self._rng.choices(ids, cum_weights=cumulative)[0]
        return self.pool.take()

    def _pick_stored(self) -> int:
        stored = selectors.song_random_stored_id(rng=self._rng)
        return stored if stored is not None else secrets.randbits(64)
