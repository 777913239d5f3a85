import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from billion_songs.core.fake import FakeLyricsGenerator
from billion_songs.core.interface import Restart, TextDelta
from billion_songs.web.songs.data import selectors
from billion_songs.web.songs.generation.flights import Broken, Stored
from billion_songs.web.songs.generation.lease import Lease
from billion_songs.web.songs.generation.redis_flights import (
    FlightPublisher,
    RedisFlight,
    RedisFlights,
    events_key,
    lease_key,
    request_key,
)
from billion_songs.web.songs.runtime.worker import Worker
from tests.support.flights import read_with_news_between_looks


def test_a_lease_is_exclusive_and_outlives_a_dead_holder_only_briefly(redis_url):
    holder, other = Lease("bs:test", ttl=0.5), Lease("bs:test", ttl=0.5)
    assert holder.acquire() and not other.acquire()
    with holder.heartbeat():
        time.sleep(1.0)  # twice its life: the heartbeat keeps it
        assert not other.acquire()
    other.release()  # not the holder's token: nothing happens
    assert not other.acquire()
    # The holder "dies" (no heartbeat, no release): the lease expires by itself.
    assert other.acquire(wait=2.0)


def test_many_askers_send_one_task(redis_url, private_redis):
    source = RedisFlights()
    with ThreadPoolExecutor(16) as pool:
        sent = list(pool.map(lambda _: source.request_again(42), range(32)))
    assert sent.count(True) == 1
    queued = [json.loads(message) for message in private_redis.client().lrange("songs", 0, -1)]
    assert len(queued) == 1 and queued[0]["headers"]["task"] == "songs.generate"


def test_no_task_while_a_worker_holds_the_lease(redis_url, private_redis):
    Lease(lease_key(43), ttl=5).acquire()
    assert RedisFlights().request_again(43) is False
    assert private_redis.client().llen("songs") == 0


def _read_all(flight) -> list:
    async def read():
        return [event async for event in flight.events()]

    return asyncio.run(read())


def test_a_visitor_reads_the_song_a_worker_writes(redis_url, private_redis, transactional_db):
    worker = Worker(FakeLyricsGenerator(line_delay=0.05))
    source = RedisFlights(poll=0.2)
    song_id = 2**64 - 1
    private_redis.client().set(request_key(song_id), "1")  # as if a task was sent
    writer = threading.Thread(target=worker.write_song, args=(song_id,))
    writer.start()
    events = _read_all(source.flight(song_id))
    writer.join(10)
    stored = selectors.song_get(song_id=song_id)
    assert isinstance(events[-1], Stored) and events[-1].song.pk == stored.pk == song_id
    text = "".join(event.text for event in events if isinstance(event, TextDelta))
    assert text == f"{stored.title}\n\n{stored.lyrics}\n"
    assert not private_redis.client().exists(request_key(song_id))  # a later ask starts afresh
    assert not private_redis.client().exists(lease_key(song_id))


def test_a_writer_taking_over_tells_readers_to_drop_the_draft(redis_url, private_redis, transactional_db):
    dead = FlightPublisher(9)
    dead.publish(TextDelta("half a li"))  # then its worker was killed
    Worker(FakeLyricsGenerator()).write_song(9)
    events = _read_all(RedisFlights(poll=0.2).flight(9))
    assert events[0] == TextDelta("half a li") and isinstance(events[1], Restart)
    assert isinstance(events[-1], Stored)


def test_a_song_stored_while_its_events_were_lost_is_found(redis_url, private_redis, transactional_db):
    Worker(FakeLyricsGenerator()).write_song(11)
    private_redis.client().delete(events_key(11))  # Redis restarted after the song was stored
    events = _read_all(RedisFlights(poll=0.2).flight(11))
    assert len(events) == 1 and isinstance(events[0], Stored) and events[0].song.pk == 11


def test_a_broken_flight_is_reported_and_a_later_visit_asks_again(redis_url, private_redis, transactional_db):
    class Failing(FakeLyricsGenerator):
        def stream(self, song_id):
            yield TextDelta("la")
            raise RuntimeError("engine on fire")

    Worker(Failing()).write_song(12)
    source = RedisFlights(poll=0.2, patience=1.0)
    # Read the broken flight's events as a visitor who was there.
    entries = private_redis.client().xrange(events_key(12))
    assert entries[-1][1] == {"type": "broken", "reason": "RuntimeError: engine on fire"}
    # A later visitor starts after that flight, sends a new task and, with no worker
    # running here, is told to try again after `patience` seconds of silence.
    events = _read_all(source.flight(12))
    assert len(events) == 1 and isinstance(events[0], Broken)
    assert private_redis.client().llen("songs") == 1


def test_a_visitor_is_told_to_try_again_while_redis_is_out_of_reach(unreachable_redis, db):
    started = time.monotonic()
    events = _read_all(RedisFlights(poll=0.2, outage_patience=1.0).flight(77))
    assert len(events) == 1 and isinstance(events[0], Broken)
    assert "cannot be reached" in events[0].reason
    assert time.monotonic() - started < 10


def test_a_reader_gets_the_text_written_between_its_reads_as_one_piece(redis_url, private_redis):
    publisher = FlightPublisher(21)
    publisher.publish(TextDelta("a"))
    flight = RedisFlight(21, RedisFlights(poll=0.5, stream_interval=0.3), start="0")

    def news():
        for event in (TextDelta("b"), TextDelta("c"), Restart("too short"), TextDelta("d")):
            publisher.publish(event)
        publisher.finish(stored=False, reason="end")

    events, gap = read_with_news_between_looks(flight.events, news)
    assert events == [TextDelta("a"), TextDelta("bc"), Restart("too short"), TextDelta("d"), Broken("end")]
    assert gap >= 0.3  # one read of the stream per interval
