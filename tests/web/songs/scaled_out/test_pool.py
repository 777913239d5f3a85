import pytest

import time

from billion_songs.core.songwriting.plan import brief_for
from billion_songs.web.songs.generation.redis_pool import EXHAUSTED, IDS, TAGS, RedisPool, tag_key
from billion_songs.web.songs.data.tags import PoolEntry


def test_each_song_is_served_its_share_of_times_across_web_processes(redis_url):
    one, other = (RedisPool(target=10, serves=3, local_picks=1) for _ in range(2))  # two web processes
    assert one.add([1, 2]) == 2 and len(other) == 2
    served = [pool.take() for pool in (one, other) for _ in range(3)]
    assert sorted(served) == [1, 1, 1, 2, 2, 2]
    assert one.take() is None and other.take() is None and len(one) == 0
    marked = []
    assert one.flush_exhausted(marked.extend) == 2 and sorted(marked) == [1, 2]
    assert other.flush_exhausted(marked.extend) == 0


def test_a_web_process_draws_several_picks_per_round_trip(redis_url, private_redis):
    pool = RedisPool(target=10, serves=10, local_picks=4)
    pool.add([1])
    assert [pool.take() for _ in range(4)] == [1] * 4
    assert private_redis.client().hget("bs:pool:serves", "1") == "6"  # one draw of four


def test_ids_beyond_2_63_round_trip(redis_url):
    pool = RedisPool(target=10, serves=1)
    pool.add([2**64 - 1, 0])
    assert sorted([pool.take(), pool.take()]) == [0, 2**64 - 1]


def test_a_discarded_song_is_not_served_even_from_picks_drawn_already(redis_url):
    pool = RedisPool(target=10, serves=10, local_picks=5)
    pool.add([7])
    assert pool.take() == 7  # four more picks of 7 are now held in this process
    assert pool.discard([7]) == 1
    assert pool.take() is None and len(pool) == 0


def test_exhausted_ids_stay_until_marked_done(redis_url, private_redis):
    pool = RedisPool(target=10, serves=1)
    pool.add([1, 2, 3])
    [pool.take() for _ in range(3)]
    assert pool.flush_exhausted(lambda song_ids: None, limit=2) == 2  # a worker marked two in the database
    assert private_redis.client().llen(EXHAUSTED) == 1


def test_exhausted_ids_stay_when_marking_them_fails(redis_url, private_redis):
    pool = RedisPool(target=10, serves=1)
    pool.add([1, 2])
    [pool.take() for _ in range(2)]

    def database_down(song_ids):
        raise ConnectionError("database down")

    with pytest.raises(ConnectionError):
        pool.flush_exhausted(database_down)
    assert private_redis.client().llen(EXHAUSTED) == 2


def test_without_redis_take_answers_none_at_once(unreachable_redis):
    pool = RedisPool(target=10, serves=1)
    started = time.monotonic()
    assert [pool.take() for _ in range(100)] == [None] * 100
    # The first take paid for one refused connection; the breaker spared the others.
    assert time.monotonic() - started < 1.0


def test_pool_keys_are_the_documented_ones(redis_url, private_redis):
    RedisPool(target=1, serves=1).add([5])
    assert private_redis.client().smembers(IDS) == {"5"}


def test_a_song_hidden_by_a_moderator_leaves_the_shared_pool(redis_url, settings, transactional_db):
    from billion_songs.web.songs.data import services
    from billion_songs.web.songs.runtime import web as runtime
    from tests.support.songs import store

    settings.SONG_WORKERS = True
    previous = runtime.install(None)  # this process has not built its runtime yet
    try:
        store(21, 22)
        RedisPool(target=10, serves=3).add([21, 22])  # pooled by a worker
        services.songs_hide(song_ids=[21])
        pool = runtime.get().pool
        assert len(pool) == 1 and pool.take() == 22
    finally:
        runtime.install(previous)


def _entries(ids) -> list[PoolEntry]:
    return [PoolEntry(i, brief_for(i).genre, brief_for(i).mood) for i in ids]


def test_a_narrowed_draw_serves_only_matching_songs_their_share_of_times(redis_url, private_redis):
    entries = _entries(range(200))
    pool = RedisPool(target=1000, serves=2, local_picks=4)
    assert pool.add(entries + [PoolEntry(500)]) == 201  # 500: no tags known, never narrowed to
    mood = entries[0].mood
    matching = sorted(e.id for e in entries if e.mood == mood)
    served = []
    while (song_id := pool.take(mood=mood)) is not None:
        served.append(song_id)
    assert sorted(served) == sorted(matching * 2)
    marked = []
    pool.flush_exhausted(marked.extend)
    assert len(pool) == 201 - len(matching) and sorted(marked) == matching
    redis = private_redis.client()
    assert redis.scard(tag_key("mood", mood)) == 0 and redis.hmget(TAGS, *map(str, matching)) == [None] * len(matching)
    # Their genre sets lost them too: a genre draw never serves a song that left the pool.
    genre = entries[0].genre
    by_genre = {e.id for e in entries if e.genre == genre and e.mood != mood}
    assert {int(i) for i in redis.smembers(tag_key("genre", genre))} == by_genre


def test_a_draw_narrowed_to_a_genre_and_a_mood_uses_both(redis_url):
    entries = _entries(range(400))
    pool = RedisPool(target=1000, serves=3, local_picks=5)
    pool.add(entries)
    genre, mood = entries[0].genre, entries[0].mood
    both = sorted(e.id for e in entries if (e.genre, e.mood) == (genre, mood))
    served = []
    while (song_id := pool.take(genre=genre, mood=mood)) is not None:
        served.append(song_id)
    assert sorted(served) == sorted(both * 3)
    assert pool.take(mood="no such mood") is None
    unnarrowed = pool.take()
    assert unnarrowed is not None and unnarrowed not in both


def test_served_out_by_an_unnarrowed_draw_leaves_the_tag_sets(redis_url, private_redis):
    pool = RedisPool(target=10, serves=1, local_picks=1)
    pool.add([PoolEntry(1, "folk", "sad"), PoolEntry(2, "folk", "joyful")])
    first = pool.take()
    assert first in (1, 2)
    other = 3 - first
    assert pool.take(genre="folk") == other  # the served-out one is not drawn again
    assert pool.take(genre="folk") is None
    redis = private_redis.client()
    assert not redis.exists(tag_key("genre", "folk"), tag_key("mood", "sad"), tag_key("mood", "joyful"), TAGS)


def test_a_discarded_song_leaves_its_tag_sets(redis_url, private_redis):
    pool = RedisPool(target=10, serves=10, local_picks=3)
    pool.add([PoolEntry(7, "folk", "sad"), PoolEntry(8, "folk", "sad")])
    assert pool.take(mood="sad") in (7, 8)  # two more picks are held in this process
    assert pool.discard([7]) == 1
    assert {pool.take(mood="sad") for _ in range(5)} == {8}
    assert private_redis.client().smembers(tag_key("genre", "folk")) == {"8"}
    pool.clear()
    assert private_redis.client().keys("bs:pool:*") == []


def test_a_worker_never_pools_a_failed_song_nor_restores_one(redis_url, private_redis, transactional_db):
    from billion_songs.core.fake import FakeLyricsGenerator
    from billion_songs.web.songs.data.models import Song
    from billion_songs.web.songs.runtime.worker import RESTORED, Worker

    worker = Worker(FakeLyricsGenerator(failing_ids=frozenset({1, 3})))
    assert worker.fill_batch("b1", [1, 2, 3, 4])
    redis = private_redis.client()
    assert redis.smembers(IDS) == {"2", "4"}  # 1 and 3 were stored, as failed songs, not pooled
    assert Song.objects.filter(ok=False).count() == 2
    # Redis restarted (empty): the top-up restores the pool from the database, failed
    # songs (even one marked pooled by an older version) and hidden ones left out.
    Song.objects.filter(pk=3).update(in_pool=True)
    worker.pool.clear()
    redis.delete(RESTORED)
    worker.top_up()
    assert redis.smembers(IDS) == {"2", "4"}
    assert redis.hget(TAGS, "2") == f"{brief_for(2).mood}\t{brief_for(2).genre}"
    assert worker.pool.take(mood=brief_for(4).mood) == 4
