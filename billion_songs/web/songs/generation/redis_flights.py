"""Single-flight generation across processes.

A never-seen id is written once, by one worker, however many web processes ask for it:

1. A web process that needs the song sets the id's *request marker* (SET NX, with a
   time to live) and, only if it set it, sends one `songs.generate` task. Every other
   asker finds the marker and sends nothing.
2. The worker that runs the task takes the id's *lease* (SET NX with a short time to
   live, renewed by a heartbeat while it writes). A duplicate task for the id finds the
   lease held and does nothing; a worker killed mid-song stops renewing its lease, which
   soon expires, so the song can be taken over.
3. The worker appends the song's events to the id's Redis *stream* as it writes them:
   the text deltas, `restart` when an attempt is thrown away (or when a worker takes over
   from one that died), then exactly one terminal event, `stored` or `broken`.
4. Every visitor's page reads that stream from its start (XREAD, blocking on the event
   loop: no thread held per visitor), so late joiners replay what was written so far.
   While the stream is quiet the reader checks the database (a song stored by a worker
   whose events were lost in a Redis restart) and re-sends the request when neither a
   marker nor a lease exists: the worker died, or Redis lost the queue. Those looks back
   off (`poll` doubling up to `poll_max`, with jitter), so a thousand waiting readers do
   not query the database every two seconds each.

Admission control (admission.py), checked in Redis so that it holds across web
processes, before anything is enqueued (`admit`):

- a client address waits on at most `per_client` distinct ids (a sorted set per client
  of song ids, each with an expiry that its readers push forward while they wait);
- at most `queue` generate tasks are queued for the workers (a sorted set of the ids
  requested and not yet begun; the check and the request are one Lua script, so two web
  processes cannot both take the last place): the Celery queue stays bounded.

A reader admitted this way registers as a *watcher* of the id (a sorted set of reader
tokens with expiries, refreshed while it waits, removed when it leaves) and the request
is marked *admitted*; a worker that takes an admitted request no watcher waits for any
more drops it before writing (`FlightPublisher.begin` raises `Abandoned`).

`RedisFlights` is the `Flights` of a web process that holds no model (see flights.py);
`FlightPublisher` is the writing side, used by the worker (runtime/worker.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import aclosing

from asgiref.sync import sync_to_async
from django.conf import settings

from billion_songs.core.interface import Restart, TextDelta
from billion_songs.web.songs.data import reading, selectors
from billion_songs.web.songs.data import redis_clients
from billion_songs.web.songs.generation.admission import AdmissionLimits, ForeseenAdmissions, Refused
from billion_songs.web.songs.generation.flights import Abandoned, Broken, FlightEvent, Stored, merged, terminal_event

log = logging.getLogger(__name__)

STREAM_KEEP = 600  # seconds a finished song's events stay readable (late joiners)
STREAM_MAX_AGE = 3600  # seconds an abandoned stream lives
GENERATE_TASK = "songs.generate"  # the Celery task a worker runs to write a visitor's song (runtime/tasks.py)


def events_key(song_id: int) -> str:
    return redis_clients.key("flight", song_id, "events")


def request_key(song_id: int) -> str:
    return redis_clients.key("flight", song_id, "requested")


def lease_key(song_id: int) -> str:
    return redis_clients.key("flight", song_id, "lease")


def watchers_key(song_id: int) -> str:
    return redis_clients.key("flight", song_id, "watchers")


def admitted_key(song_id: int) -> str:
    return redis_clients.key("flight", song_id, "admitted")


def client_key(client: str) -> str:
    # Hashed: an address (or whatever a test client sends) as a fixed-length key.
    return redis_clients.key("admission", "client", hashlib.blake2b(client.encode(), digest_size=12).hexdigest())


QUEUED = redis_clients.key("flight", "queued")  # sorted set: song id -> time its task was sent

# Request a song unless it is requested or being written, within the queue bound.
# KEYS: request marker, lease, queued set, admitted flag.
# ARGV: song id, now, request ttl, queue bound (0: none), admitted (1: by a visitor who may
# leave), queue ttl (how long an id counts as queued if its task was lost).
# Returns 1 (the caller sends the task), 0 (requested already), -1 (the queue is full).
# An id still in the queued set is not sent again when its marker expires: a long queue
# must not fill with duplicates.
_ENQUEUE = """
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local now, ttl, bound = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[6]))
if redis.call('ZSCORE', KEYS[3], ARGV[1]) then return 0 end
if bound > 0 and redis.call('ZCARD', KEYS[3]) >= bound then return -1 end
redis.call('SET', KEYS[1], '1', 'EX', math.ceil(ttl))
redis.call('ZADD', KEYS[3], now, ARGV[1])
if ARGV[5] == '1' then redis.call('SET', KEYS[4], '1', 'EX', 3600) else redis.call('DEL', KEYS[4]) end
return 1
"""

# A client starts waiting on an id, within its bound of distinct ids.
# KEYS: the client's set. ARGV: song id, now, expiry, bound. Returns 1, or 0 (refused).
_CLIENT_ENTER = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) - tonumber(ARGV[2])) + 1)
return 1
"""

# What admission would answer now, changing nothing: the checks of _CLIENT_ENTER, then of
# _ENQUEUE, on the entries that those scripts would not trim away as expired, counting too
# the places and queued ids that this process foresaw admitted and whose visits have not
# counted them in Redis yet. (Without those, a flood's first requests all found the
# client's share and the queue empty and went to Django, whose visits then refused all but
# the first few, at a full request cycle each.)
# KEYS: the client's set, request marker, lease, queued set.
# ARGV: song id, now, per-client bound, queue bound (0: none), oldest queued time that
# counts, the client's places foreseen and not visited yet, ids foreseen queued and not
# visited yet, 1 if this id is one of those (else 0).
# Returns 1 (the client waits on its share: 429), 2 (the queue is full: 503) or 0
# (admitted), plus 4 when it takes a new place of its client and 8 when it queues its id.
_FORESEE = """
local result = 0
local waiting = redis.call('ZSCORE', KEYS[1], ARGV[1])
local new_place = not (waiting and tonumber(waiting) > tonumber(ARGV[2]))
if new_place and redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[2], '+inf') + tonumber(ARGV[6]) >= tonumber(ARGV[3]) then
  return 1
end
local bound = tonumber(ARGV[4])
if bound > 0 and ARGV[8] == '0' and redis.call('EXISTS', KEYS[3]) == 0 and redis.call('EXISTS', KEYS[2]) == 0 then
  local queued = redis.call('ZSCORE', KEYS[4], ARGV[1])
  if not (queued and tonumber(queued) > tonumber(ARGV[5])) then
    if redis.call('ZCOUNT', KEYS[4], '(' .. ARGV[5], '+inf') + tonumber(ARGV[7]) >= bound then return 2 end
    result = 8
  end
end
if new_place then result = result + 4 end
return result
"""

# A worker begins an id: it is no longer queued; an admitted request nobody watches any
# more is dropped. KEYS: queued set, admitted flag, watchers. ARGV: song id, now.
# Returns 1 when it must be dropped.
_BEGIN = """
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('DEL', KEYS[2]) == 0 then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[3]) == 0 then return 1 end
return 0
"""


# --- Publishing (workers) -----------------------------------------------------------------

class FlightPublisher:
    """Appends one song's events to its stream. Best effort: if Redis is restarting, the
    song is still written and stored, and its readers find it in the database."""

    def __init__(self, song_id: int):
        self.song_id = song_id
        self.key = events_key(song_id)
        self.redis = redis_clients.client()
        self._failed = False
        self._expiring = False

    def begin(self) -> None:
        """Before writing: raises `Abandoned` when the id was asked for by visitors who
        have all left; if an earlier writer left a partial song (it died), readers who
        saw its text must drop it."""
        abandoned = False

        def check(redis):
            nonlocal abandoned
            abandoned = bool(redis.eval(_BEGIN, 3, QUEUED, admitted_key(self.song_id), watchers_key(self.song_id),
                                        self.song_id, time.time()))

        self._try(check)  # Redis out of reach: write it (the safe side)
        if abandoned:
            raise Abandoned(f"song {self.song_id}: every visitor who asked for it has left")

        def begin(pipe_redis):
            last = pipe_redis.xrevrange(self.key, count=1)
            if last and last[0][1].get("type") not in ("stored", "broken"):
                pipe_redis.xadd(self.key, {"type": "restart", "reason": "the writer stopped; starting again"})

        self._try(begin)

    def publish(self, event) -> None:
        if isinstance(event, TextDelta):
            self._try(lambda redis: redis.xadd(self.key, {"type": "delta", "text": event.text}))
        elif isinstance(event, Restart):
            self._try(lambda redis: redis.xadd(self.key, {"type": "restart", "reason": event.reason}))

    def finish(self, *, stored: bool, reason: str = "") -> None:
        """The terminal event; the request marker goes, so a failed id can be asked again."""
        def finish(redis):
            pipe = redis.pipeline()
            pipe.xadd(self.key, {"type": "stored"} if stored else {"type": "broken", "reason": reason})
            pipe.expire(self.key, STREAM_KEEP if stored else 5)
            pipe.delete(request_key(self.song_id))
            pipe.zrem(QUEUED, self.song_id)
            pipe.execute()

        self._try(finish)

    def _try(self, write) -> None:
        try:
            write(self.redis)
            if not self._expiring:  # a stream abandoned by a dead writer must not stay forever
                self._expiring = bool(self.redis.expire(self.key, STREAM_MAX_AGE, nx=True)) or self.redis.exists(self.key)
        except redis_clients.Error as error:
            if not self._failed:
                log.warning("Song %d: its events could not be published (%s); writing on", self.song_id, error)
            self._failed = True


# --- Reading (web processes) --------------------------------------------------------------

class RedisFlight:
    """A `Flight` written by a worker, read from its Redis stream. `visit` (token, client)
    when it was admitted: the reader then keeps its places as a watcher of the id and as
    one of the client's ids while it waits, and gives them back when it stops."""

    def __init__(self, song_id: int, source: RedisFlights, *, visit: tuple[str, str] | None = None,
                 start: str | None = None):
        self.song_id = song_id
        self.source = source
        self.visit = visit
        self.start = start  # the stream position to read from, when the request was sent already

    async def events(self) -> AsyncIterator[FlightEvent]:
        try:
            async for event in self._events():
                yield event
        finally:
            if self.visit is not None:
                await self.source.aleave(self.song_id, *self.visit)

    async def _events(self) -> AsyncIterator[FlightEvent]:
        source = self.source
        key = events_key(self.song_id)
        admitted = self.visit is not None
        last_id, unreachable_since = self.start, None
        if last_id is None:
            try:
                last_id = await sync_to_async(source.request, thread_sensitive=False)(self.song_id)
            except Exception as error:  # Redis or the broker out of reach: look again below
                log.warning("Asking for song %d: %s", self.song_id, error)
                last_id, unreachable_since = "0", time.monotonic()
        quiet_since = refreshed = time.monotonic()
        wait = source.poll
        while True:
            try:
                block = wait * random.uniform(0.75, 1.0)  # jitter: readers that came together drift apart
                reply = await _read_events(key, last_id, block)
            except redis_clients.Error as error:
                log.warning("Reading song %d's events: %s", self.song_id, error)
                reply = None
                unreachable_since = unreachable_since or time.monotonic()
                await asyncio.sleep(source.poll)
            entries = [entry for _, stream_entries in reply or [] for entry in stream_entries]  # (id, fields)
            if entries:
                last_id = entries[-1][0]
            events = (_event(fields) for _, fields in entries)
            for event in merged(event for event in events if event is not None):
                if event is _STORED:
                    song = await reading.read(selectors.song_get, song_id=self.song_id)
                    if song is not None:
                        yield Stored(song)
                        return
                    continue
                yield event
                if isinstance(event, Broken):
                    return
            if admitted and time.monotonic() - refreshed > source.watch_ttl / 3:
                refreshed = time.monotonic()
                await source.arefresh(self.song_id, *self.visit)
            if reply:
                quiet_since = time.monotonic()
                wait = source.poll
                if source.stream_interval > 0:  # what is written meanwhile comes as one piece
                    await asyncio.sleep(source.stream_interval)
                continue
            # Quiet: stored by a writer whose events were lost? Writer gone? Given up?
            song = await reading.read(selectors.song_get, song_id=self.song_id)
            if song is not None:
                yield Stored(song)
                return
            if time.monotonic() - quiet_since > source.patience:
                yield Broken(f"no worker wrote song {self.song_id} within {source.patience:.0f}s")
                return
            if unreachable_since is not None and time.monotonic() - unreachable_since > source.outage_patience:
                # Songs cannot be asked for while Redis is down: say so rather than wait.
                yield Broken("the song writers cannot be reached just now")
                return
            try:
                await sync_to_async(source.request_again, thread_sensitive=False)(self.song_id, admitted=admitted)
                unreachable_since = None
            except Exception as error:  # still out of reach
                log.warning("Asking again for song %d: %s", self.song_id, error)
                unreachable_since = unreachable_since or time.monotonic()
            # Back off: the next look comes later, up to `poll_max` (events still arrive at once).
            wait = min(source.poll_max, wait * 2)

    async def aresult(self) -> Stored | Broken:
        async with aclosing(self.events()) as events:  # closed now: the visitor's places are given back
            return await terminal_event(events)


class _SongStored:
    """The stream's "stored" entry: the song is then read from the database."""


_STORED = _SongStored()


def _event(fields: dict) -> FlightEvent | _SongStored | None:
    """The flight event of one stream entry (None: a kind this build does not know)."""
    kind = fields.get("type")
    if kind == "delta":
        return TextDelta(fields.get("text", ""))
    if kind == "restart":
        return Restart(fields.get("reason", ""))
    if kind == "broken":
        return Broken(fields.get("reason", "the song could not be written"))
    return _STORED if kind == "stored" else None


async def _read_events(key: str, last_id: str, block: float):
    """XREAD of `key` after `last_id`, waiting up to `block` seconds for an entry, in
    waits no longer than the client's socket allows (`redis_clients.longest_block`): a
    reader backed off to 8 or 16 s between looks blocked past the 5 s socket timeout, got
    a timeout instead of its song's events, and reconnected."""
    deadline = time.monotonic() + block
    while True:
        remaining = deadline - time.monotonic()
        wait = min(remaining, redis_clients.longest_block())
        reply = await redis_clients.async_client().xread({key: last_id}, count=200, block=max(1, int(wait * 1000)))
        if reply or remaining <= wait:
            return reply


class RedisFlights:
    """`Flights` for web processes that never load a model: songs are written by Celery
    workers and read from Redis streams."""

    def __init__(self, *, poll: float = 2.0, poll_max: float | None = None, patience: float = 300.0,
                 request_ttl: float = 60.0, outage_patience: float = 20.0, limits: AdmissionLimits | None = None,
                 stream_interval: float | None = None):
        self.poll = poll  # seconds a reader first blocks on the stream before looking around
        # ... doubling after each quiet look, up to this (SONG_FLIGHT_POLL_MAX unless given)
        self.poll_max = max(poll, settings.SONG_FLIGHT_POLL_MAX if poll_max is None else poll_max)
        self.patience = patience  # seconds of silence after which a visitor is told to retry
        self.outage_patience = outage_patience  # seconds of Redis or broker errors before that
        self.request_ttl = request_ttl  # seconds a request marker lives (a lost task is re-sent after)
        self.queue_ttl = patience + request_ttl  # seconds a queued id counts, should its task be lost
        self.watch_ttl = 2 * self.poll_max + 10  # seconds a reader's places outlive its last refresh
        self.limits = limits or AdmissionLimits.from_settings()
        # Seconds between a reader's reads of the stream while it has news (flights.py).
        self.stream_interval = settings.SONG_STREAM_INTERVAL if stream_interval is None else stream_interval
        self.in_flight = 0  # flights are in Redis, not in this process
        self.foreseen = ForeseenAdmissions()  # admissions foreseen here, not visited yet

    def flight(self, song_id: int) -> RedisFlight:
        return RedisFlight(song_id, self)

    async def admit(self, song_id: int, *, client: str) -> RedisFlight:
        return await sync_to_async(self.visit, thread_sensitive=False)(song_id, client=client)

    def warm(self) -> None:
        """Celery, its result backend and its producer pool, loaded now: the first task
        sent loaded them (about 0.1 s of CPU, a lookup among the installed packages' entry
        points included) on a thread that held the GIL meanwhile, and with it the event
        loop and every request of the process (bench/bench_flood.py --scaled: the
        stored pages read as a flood began). The broker is not connected to here: with
        it away, kombu would retry for seconds before the process could start."""
        from billion_songs.web.config.celery import app

        app.backend, app.amqp, app.producer_pool  # noqa: B018  (each loads on first use)

    async def foresee(self, song_id: int, *, client: str) -> Refused | None:
        """What `visit` would answer now, in one read-only script on the event loop's
        Redis client; None as well when Redis cannot say (the view then asks). An
        admission foreseen counts in the next looks until its visit counts it in Redis
        (`foreseen`)."""
        now = time.time()
        places, queued = self.foreseen.before(song_id, client)
        try:
            outcome = await redis_clients.async_client().eval(
                _FORESEE, 4, client_key(client), request_key(song_id), lease_key(song_id), QUEUED,
                song_id, repr(now), self.limits.per_client, self.limits.queue, repr(now - self.queue_ttl),
                places, len(queued), int(song_id in queued))
        except redis_clients.Error:
            return None
        if outcome == 1:
            return Refused("client", self.limits.retry_after)
        if outcome == 2:
            return Refused("busy", self.limits.retry_after)
        self.foreseen.admitted(song_id, client, place=bool(outcome & 4), queued=bool(outcome & 8))
        return None

    def visit(self, song_id: int, *, client: str) -> RedisFlight:
        """`admit` for synchronous callers: the client's place and the id's request,
        counted and sent before the visitor's page starts."""
        try:
            return self._visit(song_id, client)
        finally:  # counted in Redis now, if admitted
            self.foreseen.visited(song_id, client)

    def _visit(self, song_id: int, client: str) -> RedisFlight:
        token = secrets.token_hex(8)
        now = time.time()
        expiry = now + self.watch_ttl
        try:
            redis = redis_clients.client()
            if not redis.eval(_CLIENT_ENTER, 1, client_key(client), song_id, now, expiry, self.limits.per_client):
                raise Refused("client", self.limits.retry_after)
            pipe = redis.pipeline(transaction=False)
            pipe.zadd(watchers_key(song_id), {token: expiry})
            pipe.expire(watchers_key(song_id), int(self.watch_ttl) + 1)
            pipe.execute()
        except redis_clients.Error as error:
            # Nothing can be counted, and nothing enqueued, while Redis is out of reach:
            # the reader waits (at most `outage_patience`) and asks again.
            log.warning("Admitting a visitor of song %d: %s", song_id, error)
            return RedisFlight(song_id, self)
        flight = RedisFlight(song_id, self, visit=(token, client))
        try:
            flight.start = self.request(song_id, admitted=True)
        except Refused:
            self.leave(song_id, token, client)
            raise
        except Exception as error:  # the broker: the reader asks again
            log.warning("Asking for song %d: %s", song_id, error)
        return flight

    def request(self, song_id: int, *, admitted: bool = False) -> str:
        """Make sure a worker will write `song_id`; returns the stream position to read
        from: the start, or after the last event of a flight that broke earlier (a new
        visit tries again). An `admitted` request that finds the queue full is `Refused`."""
        redis = redis_clients.client()
        last = redis.xrevrange(events_key(song_id), count=1)
        start = "0"
        if last and last[0][1].get("type") == "broken":
            start = last[0][0]
        if self._enqueue(song_id, admitted=admitted) < 0 and admitted:
            raise Refused("busy", self.limits.retry_after)
        return start

    def request_again(self, song_id: int, *, admitted: bool = False) -> bool:
        """Send the task unless a request or a writer for the id is alive, or the queue
        is full (a reader asks again at its next look); True if sent."""
        return self._enqueue(song_id, admitted=admitted) > 0

    def _enqueue(self, song_id: int, *, admitted: bool) -> int:
        """1: sent; 0: requested or being written already; -1: the queue is full."""
        redis = redis_clients.client()
        outcome = redis.eval(_ENQUEUE, 4, request_key(song_id), lease_key(song_id), QUEUED, admitted_key(song_id),
                             song_id, time.time(), self.request_ttl, self.limits.queue, int(admitted),
                             self.queue_ttl)
        if outcome <= 0:
            return outcome
        # Lazy: Celery takes a tenth of a second to import, and a web process that holds
        # the model never sends a task (a scaled-out one loads it at start: `warm`).
        from billion_songs.web.config.celery import app

        try:
            app.send_task(GENERATE_TASK, (song_id,), retry=False)
        except Exception:
            pipe = redis.pipeline(transaction=False)  # let the next look try again
            pipe.delete(request_key(song_id))
            pipe.zrem(QUEUED, song_id)
            pipe.execute()
            raise
        return 1

    # A reader's places: as a watcher of the id, and as one of its client's ids.

    async def arefresh(self, song_id: int, token: str, client: str) -> None:
        expiry = time.time() + self.watch_ttl
        try:
            pipe = redis_clients.async_client().pipeline(transaction=False)
            pipe.zadd(watchers_key(song_id), {token: expiry})
            pipe.expire(watchers_key(song_id), int(self.watch_ttl) + 1)
            pipe.zadd(client_key(client), {str(song_id): expiry})
            pipe.expire(client_key(client), int(self.watch_ttl) + 1)
            await pipe.execute()
        except redis_clients.Error as error:  # they expire by themselves: no harm
            log.debug("Refreshing a reader of song %d: %s", song_id, error)

    async def aleave(self, song_id: int, token: str, client: str) -> None:
        try:
            pipe = redis_clients.async_client().pipeline(transaction=False)
            pipe.zrem(watchers_key(song_id), token)
            pipe.zrem(client_key(client), str(song_id))
            await pipe.execute()
        except redis_clients.Error as error:
            log.debug("A reader of song %d leaving: %s", song_id, error)

    def leave(self, song_id: int, token: str, client: str) -> None:
        try:
            pipe = redis_clients.client().pipeline(transaction=False)
            pipe.zrem(watchers_key(song_id), token)
            pipe.zrem(client_key(client), str(song_id))
            pipe.execute()
        except redis_clients.Error as error:
            log.debug("A reader of song %d leaving: %s", song_id, error)
