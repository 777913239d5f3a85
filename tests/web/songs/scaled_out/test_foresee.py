"""Refusals foreseen in Redis (`RedisFlights.foresee`): the same answer `visit` gives,
found without counting or enqueueing anything, and the ASGI front (http/fast_path.py)
answering a scaled-out flood's refusals with it before Django."""

from __future__ import annotations

import asyncio
import time

import pytest

from billion_songs.core.fake import FakeLyricsGenerator
from billion_songs.web.songs.data import services
from billion_songs.web.songs.generation.admission import AdmissionLimits, Refused
from billion_songs.web.songs.generation.lease import Lease
from billion_songs.web.songs.generation.redis_flights import RedisFlights, client_key, lease_key
from billion_songs.web.songs.runtime import web as runtime
from tests.support.asgi import call, front_counting_django


def _foresee(flights: RedisFlights, song_id: int, client: str) -> str | None:
    refused = asyncio.run(flights.foresee(song_id, client=client))
    return refused and refused.reason


def _visit(flights: RedisFlights, song_id: int, client: str) -> str | None:
    try:
        flights.visit(song_id, client=client)
    except Refused as refused:
        return refused.reason
    return None


def _everything(redis) -> dict:
    return {key: redis.dump(key) for key in sorted(redis.keys("*"))}


def test_foresee_answers_as_a_visit_would_and_changes_nothing(redis_url, private_redis):
    redis = private_redis.client()
    flights = RedisFlights(limits=AdmissionLimits(per_client=2, queue=2, retry_after=7))
    assert _visit(flights, 1, "10.0.0.1") is None and _visit(flights, 2, "10.0.0.1") is None  # the queue is full

    cases = [
        (3, "10.0.0.1", "client"),  # this client waits on its share
        (1, "10.0.0.1", None),  # ... but asking again for one of them costs nothing
        (4, "10.0.0.2", "busy"),  # another client: the queue is full
        (2, "10.0.0.2", None),  # ... but an id already queued is simply joined
    ]
    before = _everything(redis)
    foreseen = [_foresee(flights, song_id, client) for song_id, client, _ in cases]
    assert _everything(redis) == before, "foresee changed something"
    assert foreseen == [expected for *_, expected in cases]
    assert [_visit(flights, song_id, client) for song_id, client, _ in cases] == foreseen
    refused = asyncio.run(flights.foresee(3, client="10.0.0.1"))
    assert refused.retry_after == 7

    # An id a worker is writing (its lease held) is joined, however full the queue.
    Lease(lease_key(5), ttl=30).acquire()
    assert _foresee(flights, 5, "10.0.0.3") is None and _visit(flights, 5, "10.0.0.3") is None
    # Places whose readers stopped refreshing them (expired) do not count.
    redis.zadd(client_key("10.0.0.4"), {"6": time.time() - 1, "7": time.time() - 1})
    flights.limits = AdmissionLimits(per_client=2, queue=100)
    assert _foresee(flights, 8, "10.0.0.4") is None and _visit(flights, 8, "10.0.0.4") is None


def test_foresee_cannot_tell_without_redis(unreachable_redis):
    flights = RedisFlights(limits=AdmissionLimits(per_client=1, queue=1))
    assert _foresee(flights, 1, "10.0.0.1") is None  # the view then asks, and says what it can


@pytest.fixture
def scaled_front(settings, redis_url, transactional_db):
    """The ASGI front of a scaled-out web process (songs shared in Redis), and the paths
    that reached Django."""
    settings.SITE_URL = ""
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    settings.SONG_NEW_PER_CLIENT = 2
    settings.SONG_NEW_QUEUE = 3
    for song in FakeLyricsGenerator().generate([1]):
        services.song_store(song=song)
    previous = runtime.install(runtime.Runtime.build_shared())
    yield front_counting_django()
    runtime.install(previous)


def _get(application, path: str, client: str) -> tuple[int, dict[bytes, bytes], bytes]:
    status, headers, body = asyncio.run(call(application, "GET", path, host="127.0.0.1", client=client))
    return status, {name.lower(): value for name, value in headers}, body


def test_a_scaled_out_refusal_is_answered_before_django(scaled_front):
    application, through_django = scaled_front
    flights = runtime.get().flights
    for song_id in (100, 101):  # this client waits on as many new songs as it may
        flights.visit(song_id, client="127.0.0.1")

    slow_status, slow, slow_body = _get(application, "/song/200", "127.0.0.1")  # Django; the front learns
    fast_status, fast, fast_body = _get(application, "/song/200", "127.0.0.1")
    assert slow_status == fast_status == 429 and through_django == ["/song/200"]
    assert fast_body == slow_body
    assert {k: v for k, v in fast.items() if k not in (b"date", b"content-length")} == \
        {k: v for k, v in slow.items() if k not in (b"date", b"content-length")}

    flights.visit(102, client="10.0.0.9")  # the queue (3) is full
    assert _get(application, "/api/songs/300", "10.0.0.10")[0] == 503  # Django; the front learns
    status, headers, _ = _get(application, "/api/songs/301", "10.0.0.11")
    assert status == 503 and headers[b"retry-after"] and through_django[-1] == "/api/songs/300"

    # A stored song that is not in the page cache is never refused: Django renders it.
    status, _, _ = _get(application, "/song/1", "127.0.0.1")
    assert status == 200 and through_django[-1] == "/song/1"
