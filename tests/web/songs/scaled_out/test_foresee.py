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
from tests.support.asgi import call, front_counting_django, scope


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


def test_a_floods_looks_one_after_another_count_the_admissions_foreseen_before(redis_url, private_redis):
    """The front's looks come one after another, each before the visit of the one before
    has counted anything in Redis: each counts the admissions foreseen before it, as
    visits in turn would, instead of all finding an empty share and queue."""
    redis = private_redis.client()
    flights = RedisFlights(limits=AdmissionLimits(per_client=2, queue=3))
    looks = [(10, "10.0.0.1"), (11, "10.0.0.1"), (12, "10.0.0.1"), (10, "10.0.0.2"), (13, "10.0.0.2"),
             (14, "10.0.0.3")]
    before = _everything(redis)
    foreseen = [_foresee(flights, song_id, client) for song_id, client in looks]
    assert _everything(redis) == before, "foresee changed something"
    # 10 and 11 take the client's two places and two of the queue's three; 12 is over the
    # client's share; 10 again (another client) joins the id queued; 13 takes the last
    # place in the queue; 14 finds it full.
    assert foreseen == [None, None, "client", None, None, "busy"]
    assert [_visit(flights, song_id, client) for song_id, client in looks] == foreseen  # visits agree
    assert len(flights.foreseen) == 0  # counted in Redis now, not here


def test_admissions_foreseen_count_until_their_visits_do(redis_url, private_redis):
    flights = RedisFlights(limits=AdmissionLimits(per_client=2, queue=10))
    assert _foresee(flights, 20, "10.0.0.5") is None and _foresee(flights, 21, "10.0.0.5") is None
    assert _foresee(flights, 22, "10.0.0.5") == "client"  # neither visited yet
    assert _foresee(flights, 20, "10.0.0.5") is None  # the same id asked again is not counted twice
    assert _visit(flights, 20, "10.0.0.5") is None and _visit(flights, 21, "10.0.0.5") is None
    assert _foresee(flights, 22, "10.0.0.5") == "client"  # Redis counts them now
    # A foreseen admission whose visitor never comes (a stored song, or they left) stops counting.
    flights.foreseen.lasting = 0.05
    assert _foresee(flights, 30, "10.0.0.6") is None and _foresee(flights, 31, "10.0.0.6") is None
    assert _foresee(flights, 32, "10.0.0.6") == "client"
    time.sleep(0.1)
    assert _foresee(flights, 32, "10.0.0.6") is None


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


def test_a_floods_first_requests_send_only_the_clients_share_to_django(scaled_front):
    """Twelve new ids at once from one client whose share is two, on a front that has
    learned Django's 429: the front admits two (Django writes their pages) and refuses the
    others itself. Before, every look found the share empty (the visits of those admitted
    had not counted yet) and nearly all twelve went to Django, whose visits refused them."""
    application, through_django = scaled_front
    flights = runtime.get().flights
    flights.limits = AdmissionLimits(per_client=2, queue=100)
    for song_id in (100, 101):
        flights.visit(song_id, client="203.0.113.9")
    assert _get(application, "/song/200", "203.0.113.9")[0] == 429  # Django answers; the front learns
    through_django.clear()
    statuses: dict[str, int] = {}

    async def ask(path: str) -> None:
        requests = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive():
            if requests:
                return requests.pop()
            await asyncio.Event().wait()  # the visitor stays until it leaves below

        async def send(message):
            if message["type"] == "http.response.start":
                statuses[path] = message["status"]

        await application(scope("GET", path, host="127.0.0.1", client="203.0.113.5"), receive, send)

    async def flood():
        paths = [f"/song/{5000 + n}" for n in range(12)]
        asking = [asyncio.create_task(ask(path)) for path in paths]
        deadline = time.monotonic() + 20
        while len(statuses) < len(paths) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for task in asking:  # the admitted visitors leave
            task.cancel()
        await asyncio.gather(*asking, return_exceptions=True)
        return [statuses.get(path) for path in paths]

    answered = asyncio.run(flood())
    assert sorted(answered) == [200] * 2 + [429] * 10, answered
    assert len(through_django) == 2, through_django
