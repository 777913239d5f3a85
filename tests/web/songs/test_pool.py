import random
import threading
import time

import pytest

from billion_songs.core.fake import FakeLyricsGenerator
from billion_songs.web.songs import runtime, services
from billion_songs.web.songs.models import Song
from billion_songs.web.songs.pool import PoolFiller, SongPool, pool_restore
from billion_songs.web.songs.priority import VisitorsFirst


def test_each_pooled_song_is_served_its_share_of_times_then_leaves():
    pool = SongPool(target=10, serves=3, rng=random.Random(0))
    pool.add([1, 2])
    served = [pool.take() for _ in range(6)]
    assert sorted(served) == [1, 1, 1, 2, 2, 2]
    assert pool.take() is None and len(pool) == 0
    assert sorted(pool.drain_exhausted()) == [1, 2]
    assert pool.drain_exhausted() == []


def test_pool_signals_the_filler_when_below_target():
    pool = SongPool(target=2, serves=1)
    assert pool.below_target.is_set()
    pool.add([1, 2])
    assert not pool.below_target.is_set()
    pool.take()
    assert pool.below_target.is_set()


def test_pool_take_is_safe_from_many_threads():
    pool = SongPool(target=10_000, serves=2)
    pool.add(range(5000))
    taken: list[int] = []
    lock = threading.Lock()

    def worker():
        mine = [pool.take() for _ in range(1250)]
        with lock:
            taken.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(pool) == 0 and sorted(taken) == sorted(list(range(5000)) * 2)


def test_pool_of_50000_songs_is_small():
    import tracemalloc

    tracemalloc.start()
    pool = SongPool(target=50_000, serves=10)
    rng = random.Random(0)
    pool.add([rng.getrandbits(64) for _ in range(50_000)])
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(pool) == 50_000
    assert size < 1_000_000  # 8 bytes per id and 1 per count; the original took 50 MB


@pytest.mark.django_db(transaction=True)
def test_filler_restores_stored_songs_then_fills_to_target_in_batches():
    services.songs_store_for_pool(songs=FakeLyricsGenerator().generate([1, 2, 3]))
    fake = FakeLyricsGenerator()
    pool = SongPool(target=10, serves=2)
    filler = PoolFiller(pool=pool, generator=fake, priority=VisitorsFirst(), batch_size=4, idle_check=0.05)
    filler.start()
    try:
        assert filler.restored.wait(5)
        _wait(lambda: len(pool) >= 10)
    finally:
        filler.stop()
    assert len(pool) == 11  # 3 restored, then two batches of 4
    assert {1, 2, 3} <= set(pool._ids)
    assert Song.objects.filter(in_pool=True).count() == 11
    assert len(fake.generated_ids) == 8


@pytest.mark.django_db(transaction=True)
def test_filler_marks_served_out_songs_so_a_restart_skips_them():
    services.songs_store_for_pool(songs=FakeLyricsGenerator().generate([1, 2]))
    pool = SongPool(target=2, serves=1)
    filler = PoolFiller(pool=pool, generator=FakeLyricsGenerator(), priority=VisitorsFirst(), batch_size=1,
                        idle_check=0.05)
    filler.start()
    try:
        assert filler.restored.wait(5)
        served = pool.take()
        _wait(lambda: not Song.objects.get(pk=served).in_pool)
    finally:
        filler.stop()
    restarted = SongPool(target=10, serves=1)
    pool_restore(pool=restarted)
    assert served not in set(restarted._ids) and len(restarted) == 2  # one left + one new


@pytest.mark.django_db(transaction=True)
def test_filler_pauses_while_a_visitor_song_is_written():
    priority = VisitorsFirst()
    pool = SongPool(target=100, serves=1)
    fake = FakeLyricsGenerator()
    filler = PoolFiller(pool=pool, generator=fake, priority=priority, batch_size=2, idle_check=0.05)
    with priority.visitor():
        filler.start()
        time.sleep(0.3)
        assert fake.generated_ids == []  # blocked in between_steps
    try:
        _wait(lambda: len(fake.generated_ids) > 0)
    finally:
        filler.stop()


@pytest.mark.django_db(transaction=True)
def test_a_restarted_runtime_restores_its_pool(settings):
    settings.SONG_POOL_TARGET = 6
    first = runtime.Runtime.build(FakeLyricsGenerator())
    first.start_filler()
    try:
        _wait(lambda: len(first.pool) >= 6)
    finally:
        first.stop()
    pooled_before = set(first.pool._ids)

    fake_after_restart = FakeLyricsGenerator()
    second = runtime.Runtime.build(fake_after_restart)
    second.start_filler()
    try:
        assert second.filler.restored.wait(5)
        # Up to the target, newest first (the last batch may have overshot it).
        assert len(second.pool) == 6 and set(second.pool._ids) <= pooled_before
        assert fake_after_restart.generated_ids == []  # full from the database
        assert second.random.pick() in pooled_before
    finally:
        second.stop()


def _wait(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def test_discard_takes_hidden_ids_out_of_the_pool():
    pool = SongPool(target=10, serves=3)
    pool.add([1, 2, 3, 4, 5])
    assert pool.discard([2, 4, 99]) == 2
    assert len(pool) == 3
    assert {pool.take() for _ in range(9)} == {1, 3, 5}
    assert pool.take() is None
