"""A reader waiting on a song another process writes looks around (the database, a lost
task) less and less often while its stream stays quiet: a thousand waiting readers must
not query the database every two seconds each."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from billion_songs.core.interface import TextDelta
from billion_songs.web.songs.data import redis_clients, selectors
from billion_songs.web.songs.generation.admission import AdmissionLimits
from billion_songs.web.songs.generation.redis_flights import QUEUED, RedisFlights, events_key, watchers_key


def test_a_waiting_reader_backs_off_and_leaves_its_places(redis_url, private_redis, db, monkeypatch):
    looks = []
    real_song_get = selectors.song_get
    monkeypatch.setattr(selectors, "song_get", lambda **kw: looks.append(time.monotonic()) or real_song_get(**kw))
    flights = RedisFlights(poll=0.1, poll_max=0.8, limits=AdmissionLimits(per_client=2, queue=5))

    async def wait_a_while():
        flight = await flights.admit(41, client="203.0.113.9")
        events = flight.events()
        reading = asyncio.ensure_future(events.__anext__())  # nobody writes it: the reader just waits
        await asyncio.sleep(3.0)
        reading.cancel()  # the visitor leaves
        try:
            await reading
        except asyncio.CancelledError:
            pass
        await events.aclose()

    asyncio.run(wait_a_while())
    # Every 0.1 s would be ~30 looks; backing off to 0.8 s makes it under ten.
    assert 3 <= len(looks) <= 10, len(looks)
    gaps = [later - earlier for earlier, later in zip(looks, looks[1:])]
    # The last wait blocked at least 0.75 x poll_max (the jitter's floor): without backing
    # off every gap would be about 0.1 s. (Comparing with the first gap failed under the
    # full suite's load, which stretches the short gaps more than the long ones.)
    assert gaps[-1] >= 0.75 * 0.8 and gaps[-1] > gaps[0], gaps
    redis = private_redis.client()
    assert redis.zcard(QUEUED) == 1  # its task is queued (no worker here) ...
    assert redis.zcard(watchers_key(41)) == 0  # ... but nobody watches it any more: a worker will drop it


def test_a_reader_backed_off_past_the_socket_timeout_still_gets_its_events(redis_url, private_redis, db,
                                                                          monkeypatch, caplog):
    """A reader backed off to waits longer than the Redis client's socket timeout (16 s
    against 5 s by default; here 1.2 s against 0.5 s) reads its song's events without a
    timeout, a warning or a new connection."""
    monkeypatch.setitem(redis_clients._OPTIONS, "socket_timeout", 0.5)
    redis_clients._async_clients.clear()  # clients made from now on take it (the fixture clears them after)
    flights = RedisFlights(poll=1.2, poll_max=1.2)
    publisher = threading.Timer(1.0, lambda: private_redis.client().xadd(events_key(43), {"type": "delta",
                                                                                        "text": "la la"}))

    async def first_event():
        events = flights.flight(43).events()
        publisher.start()
        try:
            return await asyncio.wait_for(events.__anext__(), 10)
        finally:
            await events.aclose()

    with caplog.at_level(logging.WARNING):
        event = asyncio.run(first_event())
    assert event == TextDelta("la la")
    assert "Reading song 43" not in caplog.text, caplog.text
