import time

from billion_songs.web.songs.shared.pool import EXHAUSTED, IDS, RedisSongPool


def test_each_song_is_served_its_share_of_times_across_web_processes(redis_url):
    one, other = (RedisSongPool(target=10, serves=3, local_picks=1) for _ in range(2))  # two web processes
    assert one.add([1, 2]) == 2 and len(other) == 2
    served = [pool.take() for pool in (one, other) for _ in range(3)]
    assert sorted(served) == [1, 1, 1, 2, 2, 2]
    assert one.take() is None and other.take() is None and len(one) == 0
    assert sorted(one.exhausted_peek()) == [1, 2]
    one.exhausted_done(2)
    assert other.exhausted_peek() == []


def test_a_web_process_draws_several_picks_per_round_trip(redis_url, private_redis):
    pool = RedisSongPool(target=10, serves=10, local_picks=4)
    pool.add([1])
    assert [pool.take() for _ in range(4)] == [1] * 4
    assert private_redis.client().hget("bs:pool:serves", "1") == "6"  # one draw of four


def test_ids_beyond_2_63_round_trip(redis_url):
    pool = RedisSongPool(target=10, serves=1)
    pool.add([2**64 - 1, 0])
    assert sorted([pool.take(), pool.take()]) == [0, 2**64 - 1]


def test_a_discarded_song_is_not_served_even_from_picks_drawn_already(redis_url):
    pool = RedisSongPool(target=10, serves=10, local_picks=5)
    pool.add([7])
    assert pool.take() == 7  # four more picks of 7 are now held in this process
    assert pool.discard([7]) == 1
    assert pool.take() is None and len(pool) == 0


def test_exhausted_ids_stay_until_marked_done(redis_url, private_redis):
    pool = RedisSongPool(target=10, serves=1)
    pool.add([1, 2, 3])
    [pool.take() for _ in range(3)]
    assert len(pool.exhausted_peek(limit=2)) == 2
    pool.exhausted_done(2)  # a worker marked two of them in the database
    assert private_redis.client().llen(EXHAUSTED) == 1


def test_without_redis_take_answers_none_at_once(unreachable_redis):
    pool = RedisSongPool(target=10, serves=1)
    started = time.monotonic()
    assert [pool.take() for _ in range(100)] == [None] * 100
    # The first take paid for one refused connection; the breaker spared the others.
    assert time.monotonic() - started < 1.0


def test_pool_keys_are_the_documented_ones(redis_url, private_redis):
    RedisSongPool(target=1, serves=1).add([5])
    assert private_redis.client().smembers(IDS) == {"5"}


def test_a_song_hidden_by_a_moderator_leaves_the_shared_pool(redis_url, settings, transactional_db):
    from billion_songs.web.songs import runtime, services
    from tests.web.songs.helpers import store

    settings.SONG_WORKERS = True
    previous = runtime.install(None)  # this process has not built its runtime yet
    try:
        store(21, 22)
        RedisSongPool(target=10, serves=3).add([21, 22])  # pooled by a worker
        services.songs_hide(song_ids=[21])
        pool = runtime.get().pool
        assert len(pool) == 1 and pool.take() == 22
    finally:
        runtime.install(previous)
