"""The vote counts every song page's /me fragment shows, read through a cache in Redis
(`song_vote_summary`): from the cache when it has them, else from the database, and then
into the cache.

The counts are a cache of `SongTally` (which the vote services keep exact in the
database, under the tally row's lock). Each write carries the tally's `revision`, which
grows by one with every change under that lock, and a Lua script keeps only the highest
revision: two commits whose cache writes arrive out of order, or a reader filling the
cache from an older read, can never put stale counts back. A process that dies between
its commit and its cache write leaves the old counts only until the key expires.
"""

from __future__ import annotations

from django.conf import settings

from billion_songs.web.songs.data import redis_clients
from billion_songs.web.songs.data.models import SongTally, Vote

TTL = 3600  # seconds an unvisited song's counts stay cached

_SET_IF_NEWER = """
local current = tonumber(redis.call('HGET', KEYS[1], 'rev') or '-1')
if tonumber(ARGV[1]) > current then
    redis.call('HSET', KEYS[1], 'rev', ARGV[1], 'up', ARGV[2], 'down', ARGV[3])
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""


def counts_key(song_id: int) -> str:
    return redis_clients.key("votes", song_id)


def counts_get(*, song_id: int) -> tuple[int, int] | None:
    """(up, down) from the cache, or None (not cached, or Redis unavailable)."""
    breaker = redis_clients.breaker
    if not breaker.closed():
        return None
    try:
        up, down = redis_clients.client().hmget(counts_key(song_id), "up", "down")
    except redis_clients.Error as error:
        breaker.failed(error, "vote counts")
        return None
    breaker.succeeded()
    return None if up is None or down is None else (int(up), int(down))


def counts_set(*, song_id: int, up: int, down: int, revision: int) -> None:
    """Cache counts read from (or just committed to) the database, unless the cache
    already holds a later revision. Best effort: Redis being down loses nothing."""
    if not redis_clients.breaker.closed():
        return
    try:
        redis_clients.client().eval(_SET_IF_NEWER, 1, counts_key(song_id), revision, up, down, TTL)
    except redis_clients.Error as error:
        redis_clients.breaker.failed(error, "vote counts")


def song_vote_summary(*, song_id: int, user) -> dict:
    """Counts and the visitor's own vote, for the per-user (never publicly cached) part."""
    summary = _vote_counts(song_id)
    mine = None
    if user is not None and user.is_authenticated:
        mine = Vote.objects.filter(song_id=song_id, user=user).values_list("value", flat=True).first()
    return {**summary, "mine": mine}


def _vote_counts(song_id: int) -> dict:
    """The song's counts: from the Redis cache when there is one, else from its tally
    (and then into the cache, unless a newer revision got there first)."""
    if settings.REDIS_URL:
        cached = counts_get(song_id=song_id)
        if cached is not None:
            up, down = cached
            return {"up": up, "down": down, "score": up - down}
    tally = SongTally.objects.filter(song_id=song_id).values("up", "down", "revision").first()
    tally = tally or {"up": 0, "down": 0, "revision": 0}
    if settings.REDIS_URL:
        counts_set(song_id=song_id, up=tally["up"], down=tally["down"], revision=tally["revision"])
    return {"up": tally["up"], "down": tally["down"], "score": tally["up"] - tally["down"]}
