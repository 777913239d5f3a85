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
   marker nor a lease exists: the worker died, or Redis lost the queue.

The events the readers yield are those of the in-process `songs.source.Flight`, so the
views and the streaming page are the same code on one machine and on many.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

from asgiref.sync import sync_to_async

from billion_songs.core.interface import Restart, TextDelta
from billion_songs.web.songs import selectors
from billion_songs.web.songs.shared import redis as shared_redis
from billion_songs.web.songs.source import Broken, FlightEvent, Stored, terminal_event

log = logging.getLogger(__name__)

STREAM_KEEP = 600  # seconds a finished song's events stay readable (late joiners)
STREAM_MAX_AGE = 3600  # seconds an abandoned stream lives


def events_key(song_id: int) -> str:
    return shared_redis.key("flight", song_id, "events")


def request_key(song_id: int) -> str:
    return shared_redis.key("flight", song_id, "requested")


def lease_key(song_id: int) -> str:
    return shared_redis.key("flight", song_id, "lease")


# --- Leases: "I am writing this", renewed while alive -------------------------------------

_RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class Lease:
    """A lock that lives `ttl` seconds past its holder's last heartbeat. Only the holder
    (its random token) can renew or release it."""

    def __init__(self, name: str, *, ttl: float):
        self.name = name
        self.ttl_ms = int(ttl * 1000)
        self.token = secrets.token_hex(8)
        self.lost = threading.Event()  # set when a renewal found the lease gone

    def acquire(self, *, wait: float = 0.0) -> bool:
        """Take the lease; with `wait`, keep trying that long (a holder that died lets
        its lease expire within `ttl`)."""
        redis = shared_redis.client()
        deadline = time.monotonic() + wait
        while True:
            if redis.set(self.name, self.token, nx=True, px=self.ttl_ms):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(0.5, self.ttl_ms / 4000))

    def release(self) -> None:
        try:
            shared_redis.client().eval(_RELEASE, 1, self.name, self.token)
        except shared_redis.Error:  # it expires by itself
            log.warning("Could not release lease %s", self.name)

    @contextmanager
    def heartbeat(self) -> Iterator[None]:
        """Renew the lease every third of its life while the body runs."""
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(self.ttl_ms / 3000):
                try:
                    if not shared_redis.client().eval(_RENEW, 1, self.name, self.token, self.ttl_ms):
                        self.lost.set()
                except shared_redis.Error as error:  # Redis restarting: try again next beat
                    log.warning("Could not renew lease %s: %s", self.name, error)

        thread = threading.Thread(target=renew, name=f"lease-{self.name}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


# --- Publishing (workers) -----------------------------------------------------------------

class FlightPublisher:
    """Appends one song's events to its stream. Best effort: if Redis is restarting, the
    song is still written and stored, and its readers find it in the database."""

    def __init__(self, song_id: int):
        self.song_id = song_id
        self.key = events_key(song_id)
        self.redis = shared_redis.client()
        self._failed = False
        self._expiring = False

    def begin(self) -> None:
        """Before writing: if an earlier writer left a partial song (it died), readers
        who saw its text must drop it."""
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
            pipe.execute()

        self._try(finish)

    def _try(self, write) -> None:
        try:
            write(self.redis)
            if not self._expiring:  # a stream abandoned by a dead writer must not stay forever
                self._expiring = bool(self.redis.expire(self.key, STREAM_MAX_AGE, nx=True)) or self.redis.exists(self.key)
        except shared_redis.Error as error:
            if not self._failed:
                log.warning("Song %d: its events could not be published (%s); writing on", self.song_id, error)
            self._failed = True


# --- Reading (web processes) --------------------------------------------------------------

class RemoteFlight:
    """`songs.source.Flight`'s reading side, for a song written by a worker."""

    def __init__(self, song_id: int, source: RemoteSongSource):
        self.song_id = song_id
        self.source = source

    async def events(self) -> AsyncIterator[FlightEvent]:
        key = events_key(self.song_id)
        try:
            last_id = await sync_to_async(self.source.request, thread_sensitive=False)(self.song_id)
            unreachable_since = None
        except Exception as error:  # Redis or the broker out of reach: look again below
            log.warning("Asking for song %d: %s", self.song_id, error)
            last_id, unreachable_since = "0", time.monotonic()
        quiet_since = time.monotonic()
        while True:
            try:
                reply = await shared_redis.async_client().xread({key: last_id}, count=200,
                                                                 block=int(self.source.poll * 1000))
            except shared_redis.Error as error:
                log.warning("Reading song %d's events: %s", self.song_id, error)
                reply = None
                unreachable_since = unreachable_since or time.monotonic()
                await asyncio.sleep(self.source.poll)
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    last_id = entry_id
                    kind = fields.get("type")
                    if kind == "delta":
                        yield TextDelta(fields.get("text", ""))
                    elif kind == "restart":
                        yield Restart(fields.get("reason", ""))
                    elif kind == "broken":
                        yield Broken(fields.get("reason", "the song could not be written"))
                        return
                    elif kind == "stored":
                        song = await sync_to_async(selectors.song_get)(song_id=self.song_id)
                        if song is not None:
                            yield Stored(song)
                            return
            if reply:
                quiet_since = time.monotonic()
                continue
            # Quiet: stored by a writer whose events were lost? Writer gone? Given up?
            song = await sync_to_async(selectors.song_get)(song_id=self.song_id)
            if song is not None:
                yield Stored(song)
                return
            if time.monotonic() - quiet_since > self.source.patience:
                yield Broken(f"no worker wrote song {self.song_id} within {self.source.patience:.0f}s")
                return
            if unreachable_since is not None and time.monotonic() - unreachable_since > self.source.outage_patience:
                # Songs cannot be asked for while Redis is down: say so rather than wait.
                yield Broken("the song writers cannot be reached just now")
                return
            try:
                await sync_to_async(self.source.request_again, thread_sensitive=False)(self.song_id)
                unreachable_since = None
            except Exception as error:  # still out of reach
                log.warning("Asking again for song %d: %s", self.song_id, error)
                unreachable_since = unreachable_since or time.monotonic()

    async def aresult(self) -> Stored | Broken:
        return await terminal_event(self.events())


class RemoteSongSource:
    """`songs.source.SongSource` for web processes that never load a model: songs are
    written by Celery workers and read from Redis streams."""

    def __init__(self, *, poll: float = 2.0, patience: float = 300.0, request_ttl: float = 60.0,
                 outage_patience: float = 20.0):
        self.poll = poll  # seconds a reader blocks on the stream before looking around
        self.patience = patience  # seconds of silence after which a visitor is told to retry
        self.outage_patience = outage_patience  # seconds of Redis or broker errors before that
        self.request_ttl = request_ttl  # seconds a request marker lives (a lost task is re-sent after)
        self.in_flight = 0  # flights are in Redis, not in this process

    def flight(self, song_id: int) -> RemoteFlight:
        return RemoteFlight(song_id, self)

    def request(self, song_id: int) -> str:
        """Make sure a worker will write `song_id`; returns the stream position to read
        from: the start, or after the last event of a flight that broke earlier (a new
        visit tries again)."""
        redis = shared_redis.client()
        last = redis.xrevrange(events_key(song_id), count=1)
        start = "0"
        if last and last[0][1].get("type") == "broken":
            start = last[0][0]
        self.request_again(song_id)
        return start

    def request_again(self, song_id: int) -> bool:
        """Send the task unless a request or a writer for the id is alive; True if sent."""
        redis = shared_redis.client()
        if redis.exists(lease_key(song_id)):
            return False
        if not redis.set(request_key(song_id), "1", nx=True, ex=int(self.request_ttl)):
            return False
        from billion_songs.web.songs import tasks  # Celery loads only where it is used

        try:
            tasks.song_generate.apply_async((song_id,), retry=False)
        except Exception:
            redis.delete(request_key(song_id))  # let the next look try again
            raise
        return True
