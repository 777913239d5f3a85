"""Single-flight generation, below the HTTP layer."""

import threading

import pytest
from asgiref.sync import async_to_sync

from billion_songs.core.fake import FakeLyricsGenerator
from billion_songs.core.interface import Restart, TextDelta
from billion_songs.web.songs.data.models import Song
from billion_songs.web.songs.generation.priority import VisitorsFirst
from billion_songs.web.songs.generation.flights import Broken, Stored
from billion_songs.web.songs.generation.local_flights import LocalFlight, LocalFlights
from billion_songs.web.songs.generation.writer import SongWriter
from tests.support.flights import read_with_news_between_looks

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_requests_for_one_id_share_one_generation():
    fake = FakeLyricsGenerator(line_delay=0.02)
    source = LocalFlights(writer=SongWriter(generator=fake, priority=VisitorsFirst()))
    flights, results = [], []
    barrier = threading.Barrier(8)

    def visit():
        barrier.wait()
        flight = source.flight(99)
        flights.append(flight)
        results.append(flight.result(timeout=10))

    threads = [threading.Thread(target=visit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fake.generated_ids == [99]
    assert len({id(f) for f in flights}) == 1
    assert all(isinstance(r, Stored) and r.song.pk == 99 for r in results)
    assert Song.objects.filter(pk=99).count() == 1


def test_a_late_subscriber_replays_the_whole_stream():
    fake = FakeLyricsGenerator()
    source = LocalFlights(writer=SongWriter(generator=fake, priority=VisitorsFirst()))
    flight = source.flight(5)
    flight.result(timeout=10)

    async def collect():
        return [event async for event in flight.events()]

    events = async_to_sync(collect)()
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    stored = events[-1].song
    assert text == f"{stored.title}\n\n{stored.lyrics}\n"


def test_an_id_stored_meanwhile_is_not_generated_again():
    fake = FakeLyricsGenerator()
    source = LocalFlights(writer=SongWriter(generator=fake, priority=VisitorsFirst()))
    source.flight(5).result(timeout=10)
    again = source.flight(5).result(timeout=10)  # the first flight has landed
    assert isinstance(again, Stored) and fake.generated_ids == [5]


def test_a_failed_song_streams_its_restarts_and_is_stored_as_failed():
    fake = FakeLyricsGenerator(failing_ids=frozenset({13}))
    flight = LocalFlights(writer=SongWriter(generator=fake, priority=VisitorsFirst())).flight(13)
    result = flight.result(timeout=10)
    assert isinstance(result, Stored) and not result.song.ok
    assert any(isinstance(e, Restart) for e in flight._events)


def test_an_engine_error_is_reported_and_nothing_is_stored():
    class Exploding(FakeLyricsGenerator):
        def stream(self, song_id):
            yield TextDelta("half a li")
            raise RuntimeError("out of memory")

    flight = LocalFlights(writer=SongWriter(generator=Exploding(), priority=VisitorsFirst())).flight(3)
    result = flight.result(timeout=10)
    assert isinstance(result, Broken) and "out of memory" in result.reason
    assert not Song.objects.filter(pk=3).exists()


def test_a_visitor_generation_holds_the_pool_filler_back():
    priority = VisitorsFirst()
    started, release = threading.Event(), threading.Event()

    class Slow(FakeLyricsGenerator):
        def stream(self, song_id):
            started.set()
            release.wait(5)
            yield from super().stream(song_id)

    flight = LocalFlights(writer=SongWriter(generator=Slow(), priority=priority)).flight(8)
    assert started.wait(5)
    assert priority.active == 1
    assert priority.wait_for_visitors(timeout=0.05) is False
    release.set()
    flight.result(timeout=10)
    assert priority.wait_for_visitors(timeout=5) is True


def test_what_is_written_between_a_readers_looks_comes_as_one_piece():
    flight = LocalFlight(7, stream_interval=0.2)
    flight.publish(TextDelta("a"))

    def news():
        for event in (TextDelta("b"), TextDelta("c"), Restart("too short"), TextDelta("d"), Broken("end")):
            flight.publish(event)

    events, gap = read_with_news_between_looks(flight.events, news)
    # One piece for each run of text: the restart still parts the drafts.
    assert events == [TextDelta("a"), TextDelta("bc"), Restart("too short"), TextDelta("d"), Broken("end")]
    assert gap >= 0.2  # the second look came after the interval


def test_with_no_interval_a_reader_looks_again_at_once():
    flight = LocalFlight(8, stream_interval=0.0)
    flight.publish(TextDelta("a"))
    events, gap = read_with_news_between_looks(flight.events, lambda: flight.publish(TextDelta("b")),
                                               to_the_end=False)
    assert events == [TextDelta("a"), TextDelta("b")] and gap < 0.15
