"""The random pool in Redis, shared by every web process and filled by the workers.

Two keys hold the pool: a set of song ids (SRANDMEMBER draws one uniformly) and a hash
of serves left per id. A Lua script draws a few picks at once and counts their serves
atomically; an id served its last time leaves both and joins a list of exhausted ids,
which a worker marks in the database (`in_pool=False`) so they are not restored again.

Make Random narrowed to a genre or a mood (`/random?mood=sad`) draws from a set per tag
value beside the pool (`bs:pool:mood:sad`, `bs:pool:genre:folk`; both: their
intersection), with the same serve counts; a hash of each pooled id's tags lets the
scripts take a served-out or discarded id out of its tag sets too.

A web process keeps the picks of one draw in memory (per narrowing) and hands them out
one per Make Random: one round trip to Redis per `local_picks` clicks, so the ASGI fast
path stays fast. When Redis is down, `take()` answers None and Make Random falls back to
a stored song from the database.
"""

from __future__ import annotations

import secrets
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable

from billion_songs.web.songs.data import redis_clients
from billion_songs.web.songs.data.tags import PoolEntry

IDS = redis_clients.key("pool", "ids")
SERVES = redis_clients.key("pool", "serves")
EXHAUSTED = redis_clients.key("pool", "exhausted")
TAGS = redis_clients.key("pool", "tags")  # hash: pooled id -> "<mood>\t<genre>" (tagged songs only)
TAG_PREFIX = redis_clients.key("pool", "")  # + "mood:<mood>" or "genre:<genre>": sets of pooled ids


def tag_key(kind: str, value: str) -> str:
    return redis_clients.key("pool", kind, value)


_FORGET_TAGS = """
local function forget_tags(id, prefix)
    local tags = redis.call('HGET', KEYS[4], id)
    if tags then
        local tab = string.find(tags, '\t', 1, true)
        local mood, genre = string.sub(tags, 1, tab - 1), string.sub(tags, tab + 1)
        if mood ~= '' then redis.call('SREM', prefix .. 'mood:' .. mood, id) end
        if genre ~= '' then redis.call('SREM', prefix .. 'genre:' .. genre, id) end
        redis.call('HDEL', KEYS[4], id)
    end
end
"""

# KEYS: ids, serves, exhausted, tags, then the tag sets to narrow to (none, one or two).
# ARGV: picks wanted, a random seed in [1, 2^31-2], the tag sets' key prefix.
_DRAW = _FORGET_TAGS + """
local wanted, seed, prefix = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local picks = {}
local matching = nil  -- two tags: the ids having both, drawn from with a Lehmer generator
if #KEYS == 6 then matching = redis.call('SINTER', KEYS[5], KEYS[6]) end
local source = KEYS[1]
if #KEYS == 5 then source = KEYS[5] end
for i = 1, wanted do
    local id, at
    if matching then
        if #matching == 0 then break end
        seed = (seed * 16807) % 2147483647
        at = seed % #matching + 1
        id = matching[at]
    else
        id = redis.call('SRANDMEMBER', source)
        if not id then break end
    end
    if redis.call('HINCRBY', KEYS[2], id, -1) <= 0 then
        redis.call('SREM', KEYS[1], id)
        redis.call('HDEL', KEYS[2], id)
        forget_tags(id, prefix)
        redis.call('RPUSH', KEYS[3], id)
        if matching then
            matching[at] = matching[#matching]
            matching[#matching] = nil
        end
    end
    picks[#picks + 1] = id
end
return picks
"""

# KEYS: ids, serves, exhausted, tags. ARGV: the tag sets' key prefix, then the ids.
_DISCARD = _FORGET_TAGS + """
local removed = 0
for i = 2, #ARGV do
    removed = removed + redis.call('SREM', KEYS[1], ARGV[i])
    redis.call('HDEL', KEYS[2], ARGV[i])
    forget_tags(ARGV[i], ARGV[1])
end
return removed
"""

_KEYS = [IDS, SERVES, EXHAUSTED, TAGS]


class RedisPool:
    """The `Pool` shared in Redis. Served-out ids wait in Redis (a list) until the worker
    holding the top-up lock marks them in the database."""

    def __init__(self, *, target: int, serves: int, local_picks: int = 16):
        if not 1 <= serves <= 255:
            raise ValueError("serves must be in [1, 255]")
        self.target = target
        self.serves = serves
        self.local_picks = local_picks
        self._picks: dict[tuple[str, str], list[int]] = {}  # (genre, mood) -> picks drawn
        self._lock = threading.Lock()
        self._draw = redis_clients.fast_client().register_script(_DRAW)
        self._discard = redis_clients.client().register_script(_DISCARD)

    def __len__(self) -> int:
        return redis_clients.client().scard(IDS)

    def add(self, songs: Iterable[int | PoolEntry]) -> int:
        """Add songs with a full count of serves: bare ids (no tags) or PoolEntry (id,
        genre, mood); returns how many were not pooled already. One transaction, so a
        draw never sees an id without its tags."""
        songs = [PoolEntry(song) if isinstance(song, int) else song for song in songs]
        if not songs:
            return 0
        song_ids = [str(song.id) for song in songs]
        tag_sets: dict[str, list[str]] = defaultdict(list)
        for song in songs:
            if song.mood:
                tag_sets[tag_key("mood", song.mood)].append(str(song.id))
            if song.genre:
                tag_sets[tag_key("genre", song.genre)].append(str(song.id))
        tagged = {str(song.id): f"{song.mood}\t{song.genre}" for song in songs if song.mood or song.genre}
        pipe = redis_clients.client().pipeline()
        pipe.hset(SERVES, mapping={song_id: self.serves for song_id in song_ids})
        pipe.sadd(IDS, *song_ids)
        if tagged:
            pipe.hset(TAGS, mapping=tagged)
        for key, members in tag_sets.items():
            pipe.sadd(key, *members)
        return pipe.execute()[1]

    def take(self, *, genre: str = "", mood: str = "") -> int | None:
        """A pooled id (of that genre and mood, when given), or None when the pool has
        none or Redis is unreachable."""
        with self._lock:
            picks = self._picks.get((genre, mood))
            if not picks:
                picks = self._picks[genre, mood] = self._fetch(genre=genre, mood=mood)
            return picks.pop() if picks else None

    def _fetch(self, *, genre: str, mood: str) -> list[int]:
        breaker = redis_clients.breaker
        if not breaker.closed():
            return []
        keys = _KEYS + ([tag_key("mood", mood)] if mood else []) + ([tag_key("genre", genre)] if genre else [])
        try:
            drawn = self._draw(keys=keys, args=[self.local_picks, secrets.randbelow(2**31 - 2) + 1, TAG_PREFIX])
        except redis_clients.Error as error:
            breaker.failed(error, "random pool")
            return []
        breaker.succeeded()
        return [int(song_id) for song_id in drawn]

    def discard(self, song_ids: Iterable[int]) -> int:
        """Take ids out of the pool (a moderator hid them). Picks already drawn by other
        web processes may still be served once: their page then says the song was removed."""
        unwanted = {int(song_id) for song_id in song_ids}
        with self._lock:
            for key, picks in self._picks.items():
                self._picks[key] = [song_id for song_id in picks if song_id not in unwanted]
        if not unwanted:
            return 0
        return self._discard(keys=_KEYS, args=[TAG_PREFIX, *map(str, unwanted)])

    def flush_exhausted(self, mark: Callable[[list[int]], object], limit: int = 1000) -> int:
        """Hand the oldest served-out ids to `mark`; they leave Redis only once it returns
        (so that a database error while marking them loses none). One caller at a time:
        the worker holding the top-up lock."""
        redis = redis_clients.client()
        exhausted = [int(song_id) for song_id in redis.lrange(EXHAUSTED, 0, limit - 1)]
        if exhausted:
            mark(exhausted)
            redis.ltrim(EXHAUSTED, len(exhausted), -1)
        return len(exhausted)

    def clear(self) -> None:
        """Empty the pool (tests)."""
        with self._lock:
            self._picks = {}
        redis = redis_clients.client()
        tag_sets = [*redis.scan_iter(match=TAG_PREFIX + "mood:*"), *redis.scan_iter(match=TAG_PREFIX + "genre:*")]
        redis.delete(IDS, SERVES, EXHAUSTED, TAGS, *tag_sets)
