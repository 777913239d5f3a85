"""Admission control for new songs, one machine: a small flood of never-seen ids over
real HTTP (uvicorn, as `billion-songs serve` runs it), from many loopback addresses."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from billion_songs.core.fake import FakeLyricsGenerator
from billion_songs.web.songs.data import services
from billion_songs.web.songs.data.models import Song
from billion_songs.web.songs.generation.admission import AdmissionLimits, Refused
from billion_songs.web.songs.generation.flights import Broken, Stored
from billion_songs.web.songs.generation.local_flights import LocalFlights
from billion_songs.web.songs.generation.writer import SongWriter
from billion_songs.web.songs.http.admission import MESSAGES, refused_body
from tests.web.visitors import Visitor, visit

WRITERS, QUEUE, PER_CLIENT = 1, 3, 2


@pytest.fixture
def fake(settings):
    """Low caps, and songs slow enough (a few seconds) that a flood finds them queued.
    (Overrides the conftest's `fake`, which the song runtime is built around.)"""
    settings.SONG_GENERATIONS_AT_ONCE = WRITERS
    settings.SONG_NEW_QUEUE = QUEUE
    settings.SONG_NEW_PER_CLIENT = PER_CLIENT
    settings.SONG_NEW_RETRY_AFTER = 7
    return FakeLyricsGenerator(line_delay=0.15)


def _wait(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _song_threads() -> int:
    return sum(thread.name.startswith("song-") for thread in threading.enumerate())


def test_a_flood_of_new_ids_is_refused_beyond_the_caps_and_stored_songs_stay_fast(asgi_server, fake, songs_runtime):
    for song in FakeLyricsGenerator().generate([77]):
        services.song_store(song=song)
    fake.generated_ids.clear()
    admitted: list[Visitor] = []
    statuses: list[int] = []
    threads_seen = 0

    def ask(song_id: int, address: str) -> Visitor:
        nonlocal threads_seen
        visitor = Visitor(asgi_server, f"/song/{song_id}", address=address)
        statuses.append(visitor.status)
        threads_seen = max(threads_seen, _song_threads())
        if visitor.status == 200:
            admitted.append(visitor)
        else:
            assert visitor.headers["cache-control"] == "no-store"
            assert 1 <= int(visitor.headers["retry-after"]) <= 300
            body = visitor.read().decode()
            assert 'href="/random"' in body and f'href="/song/{song_id}"' in body  # Make Random; try again
        return visitor

    # One address walks ten new ids: two are admitted, the rest are its 429s.
    for song_id in range(1000, 1010):
        ask(song_id, "127.0.0.2")
    assert statuses == [200, 200] + [429] * 8
    # Twenty more addresses, an id each: room for the one written and the queue, then 503.
    statuses.clear()
    for n in range(20):
        ask(2000 + n, f"127.0.0.{3 + n}")
    room = WRITERS + QUEUE - 2
    assert statuses == [200] * room + [503] * (20 - room)
    assert threads_seen <= WRITERS and songs_runtime.flights.queued == QUEUE

    # The API says the same in JSON.
    status, headers, body = visit(asgi_server, "/api/songs/3000", address="127.0.0.99")
    assert status == 503 and headers["content-type"] == "application/json" and int(headers["retry-after"]) >= 1
    assert b'"retry_after"' in body and b'"/random"' in body

    # Meanwhile a crawler following links reads stored songs at full speed.
    started = time.monotonic()
    for _ in range(20):
        assert visit(asgi_server, "/song/77", address="127.0.0.2")[0] == 200
    assert time.monotonic() - started < 2.0

    # Everyone but the first visitor leaves: the queued songs are dropped, not written.
    first, *others = admitted
    assert fake.generated_ids == [1000]  # the only one started so far
    for visitor in others:
        visitor.leave()
    _wait(lambda: songs_runtime.flights.queued == 0, timeout=10)
    page = first.read().decode()
    assert "could not be written" not in page and Song.objects.get(pk=1000).title in page
    _wait(lambda: songs_runtime.flights.in_flight == 0)
    assert fake.generated_ids == [1000]
    assert list(Song.objects.filter(pk__gte=1000).values_list("pk", flat=True)) == [1000]
    # With the queue empty, a new id is admitted again.
    assert visit(asgi_server, "/api/songs/1001", address="127.0.0.2")[0] == 200


def test_head_of_a_new_id_writes_nothing(asgi_server, fake):
    status, headers, _ = visit(asgi_server, "/song/4321", method="HEAD")
    assert status == 200 and headers["cache-control"] == "no-store"
    time.sleep(0.3)
    assert fake.generated_ids == [] and not Song.objects.filter(pk=4321).exists()


@pytest.mark.django_db(transaction=True)
def test_queued_and_abandoned_flights_do_not_pause_the_pool_filler():
    writer = SongWriter(generator=FakeLyricsGenerator(line_delay=0.05))
    flights = LocalFlights(writer=writer, limits=AdmissionLimits(per_client=10, queue=7, writers=1))
    visits = [flights.visit(song_id, client="a") for song_id in range(1, 9)]
    assert flights.writing == 1 and flights.queued == 7
    assert writer.priority.active == 1  # the filler waits for the song being written, not the queue
    with pytest.raises(Refused) as refused:
        flights.visit(9, client="b")
    assert refused.value.reason == "busy"
    for each in visits[1:]:
        each.leave()
    assert flights.queued == 0 and flights.in_flight == 1
    assert isinstance(visits[0].result(timeout=20), Stored)
    _wait(lambda: flights.in_flight == 0 and flights.writing == 0)
    assert writer.priority.active == 0 and writer.generator.generated_ids == [1]


@pytest.mark.django_db(transaction=True)
def test_looks_one_after_another_count_the_admissions_foreseen_before_their_visits():
    """The ASGI front looks at a flood's requests one after another (`foresee`), each
    before the visit of the one before has counted anything: each counts the admissions
    foreseen before it, as visits in turn would, instead of all finding the client's share
    and the queue empty (each then went to Django, whose visit refused it)."""
    writer = SongWriter(generator=FakeLyricsGenerator(line_delay=0.05))
    flights = LocalFlights(writer=writer, limits=AdmissionLimits(per_client=2, queue=2, writers=1))
    looks = [(10, "a"), (11, "a"), (12, "a"), (10, "b"), (13, "b"), (14, "c")]

    def foresee(song_id: int, client: str) -> str | None:
        refused = asyncio.run(flights.foresee(song_id, client=client))
        return refused and refused.reason

    foreseen = [foresee(song_id, client) for song_id, client in looks]
    # 10 and 11 take client a's two places, one writer and one place in the queue; 12 is
    # over a's share; 10 again (client b) joins it; 13 takes the queue's last place; 14
    # finds none.
    assert foreseen == [None, None, "client", None, None, "busy"]
    assert flights.in_flight == 0 and flights.clients.waiting("a") == 0  # nothing counted

    def visit(song_id: int, client: str):
        try:
            return flights.visit(song_id, client=client)
        except Refused as refused:
            return refused.reason

    visits = [visit(song_id, client) for song_id, client in looks]
    assert [each if isinstance(each, str) else None for each in visits] == foreseen  # visits agree
    assert len(flights.foreseen) == 0  # counted by the visits now
    admitted = [each for each in visits if not isinstance(each, str)]
    for each in admitted[1:]:
        each.leave()
    assert isinstance(admitted[0].result(timeout=20), Stored)
    _wait(lambda: flights.in_flight == 0 and flights.writing == 0)


@pytest.mark.django_db(transaction=True)
def test_a_writer_thread_that_cannot_start_leaves_no_flight_behind(monkeypatch):
    flights = LocalFlights(writer=SongWriter(generator=FakeLyricsGenerator()),
                           limits=AdmissionLimits(per_client=4, queue=4, writers=1))

    def no_thread(thread):
        raise RuntimeError("can't start new thread")

    with monkeypatch.context() as patch:
        patch.setattr(threading.Thread, "start", no_thread)
        broken = flights.visit(5, client="a").result(timeout=1)
    assert isinstance(broken, Broken) and "busy" in broken.reason
    assert flights.in_flight == 0 and flights.writing == 0 and flights.clients.waiting("a") == 0
    # The id does not hang: the next visit writes it.
    assert isinstance(flights.visit(5, client="a").result(timeout=10), Stored)


@pytest.mark.parametrize("kind", ["html", "json"])
@pytest.mark.parametrize("reason", ["client", "busy"])
def test_a_refusal_rendered_once_reads_as_rendered_for_its_own_id(kind, reason):
    for song_id in (0, 7, 1234567, 2**63 + 5, 2**64 - 1):
        for retry_after in (1, 9):
            refused = Refused(reason, retry_after)
            memo = refused_body(refused, song_id=song_id, kind=kind)
            if kind == "json":
                assert json.loads(memo) == {
                    "id": str(song_id), "error": MESSAGES[reason], "retry_after": retry_after,
                    "try_again": f"/api/songs/{song_id}", "random": reverse("songs:random")}
                continue
            direct = render_to_string("songs/busy.html", {
                "song_id": song_id, "song_path": f"/song/{song_id}", "reason": reason,
                "retry_after": retry_after, "page_title": f"Song #{song_id} is waiting its turn"})
            assert memo == direct.encode()
