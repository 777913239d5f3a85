"""Vote counts in Redis: what every song page's /me fragment shows, read without the
database.

The counts are a cache of `SongTally` (which the vote services keep exact in the
database, under the tally row's lock). Each write carries the tally's `revision`, which
grows by one with every change under that lock, and a Lua script keeps only the highest
revision: two commits whose cache writes arrive out of order, or a reader filling the
cache from an older read, can never put stale counts back. A process that dies between
its commit and its cache write leaves the old counts only until the key expires.
"""

from __future__ import annotations

from billion_songs.web.songs.shared import redis as shared_redis

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
    return shared_redis.key("votes", song_id)


def counts_get(*, song_id: int) -> tuple[int, int] | None:
    """(up, down) from the cache, or None (not cached, or Redis unavailable)."""
    breaker = shared_redis.breaker
    if not breaker.closed():
        return None
    try:
        up, down = shared_redis.client().hmget(counts_key(song_id), "up", "down")
    except shared_redis.Error as error:
        breaker.failed(error, "vote counts")
        return None
    breaker.succeeded()
    return None if up is None or down is None else (int(up), int(down))


def counts_set(*, song_id: int, up: int, down: int, revision: int) -> None:
    """Cache counts read from (or just committed to) the database, unless the cache
    already holds a later revision. Best effort: Redis being down loses nothing."""
    if not shared_redis.breaker.closed():
        return
    try:
        shared_redis.client().eval(_SET_IF_NEWER, 1, counts_key(song_id), revision, up, down, TTL)
    except shared_redis.Error as error:
        shared_redis.breaker.failed(error, "vote counts")
