"""The random pool in Redis, shared by every web process and filled by the workers.

Two keys hold the pool: a set of song ids (SRANDMEMBER draws one uniformly) and a hash
of serves left per id. A Lua script draws a few picks at once and counts their serves
atomically; an id served its last time leaves both and joins a list of exhausted ids,
which a worker marks in the database (`in_pool=False`) so they are not restored again.

A web process keeps the picks of one draw in memory and hands them out one per Make
Random: one round trip to Redis per `local_picks` clicks, so the ASGI fast path stays
fast. When Redis is down, `take()` answers None and Make Random falls back to a stored
song from the database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from billion_songs.web.songs.shared import redis as shared_redis

IDS = shared_redis.key("pool", "ids")
SERVES = shared_redis.key("pool", "serves")
EXHAUSTED = shared_redis.key("pool", "exhausted")

_DRAW = """
local picks = {}
for i = 1, tonumber(ARGV[1]) do
    local id = redis.call('SRANDMEMBER', KEYS[1])
    if not id then break end
    if redis.call('HINCRBY', KEYS[2], id, -1) <= 0 then
        redis.call('SREM', KEYS[1], id)
        redis.call('HDEL', KEYS[2], id)
        redis.call('RPUSH', KEYS[3], id)
    end
    picks[#picks + 1] = id
end
return picks
"""


class RedisSongPool:
    """`songs.pool.SongPool`'s interface for Make Random and moderation (add, take,
    discard, len), backed by Redis; served-out ids wait in Redis for the workers
    (`exhausted_peek`, `exhausted_done`) instead of in a list in memory."""

    def __init__(self, *, target: int, serves: int, local_picks: int = 16):
        if not 1 <= serves <= 255:
            raise ValueError("serves must be in [1, 255]")
        self.target = target
        self.serves = serves
        self.local_picks = local_picks
        self._picks: list[int] = []
        self._lock = threading.Lock()
        self._draw = shared_redis.fast_client().register_script(_DRAW)

    def __len__(self) -> int:
        return shared_redis.client().scard(IDS)

    def add(self, song_ids: Iterable[int]) -> int:
        song_ids = [str(song_id) for song_id in song_ids]
        if not song_ids:
            return 0
        pipe = shared_redis.client().pipeline()
        pipe.hset(SERVES, mapping={song_id: self.serves for song_id in song_ids})
        pipe.sadd(IDS, *song_ids)
        return pipe.execute()[1]

    def take(self) -> int | None:
        """A pooled id, or None when the pool is dry or Redis is unreachable."""
        with self._lock:
            if not self._picks:
                self._picks = self._fetch()
            return self._picks.pop() if self._picks else None

    def _fetch(self) -> list[int]:
        breaker = shared_redis.breaker
        if not breaker.closed():
            return []
        try:
            picks = [int(song_id) for song_id in self._draw(keys=[IDS, SERVES, EXHAUSTED], args=[self.local_picks])]
        except shared_redis.Error as error:
            breaker.failed(error, "random pool")
            return []
        breaker.succeeded()
        return picks

    def discard(self, song_ids: Iterable[int]) -> int:
        """Take ids out of the pool (a moderator hid them). Picks already drawn by other
        web processes may still be served once: their page then says the song was removed."""
        unwanted = {int(song_id) for song_id in song_ids}
        with self._lock:
            self._picks = [song_id for song_id in self._picks if song_id not in unwanted]
        if not unwanted:
            return 0
        pipe = shared_redis.client().pipeline()
        pipe.srem(IDS, *map(str, unwanted))
        pipe.hdel(SERVES, *map(str, unwanted))
        return pipe.execute()[0]

    def exhausted_peek(self, limit: int = 1000) -> list[int]:
        """The oldest served-out ids, left in Redis until `exhausted_done` (so that a
        database error while marking them loses none). One caller at a time: the worker
        holding the top-up lock."""
        return [int(song_id) for song_id in shared_redis.client().lrange(EXHAUSTED, 0, limit - 1)]

    def exhausted_done(self, count: int) -> None:
        shared_redis.client().ltrim(EXHAUSTED, count, -1)

    def clear(self) -> None:
        """Empty the pool (tests)."""
        with self._lock:
            self._picks = []
        shared_redis.client().delete(IDS, SERVES, EXHAUSTED)
