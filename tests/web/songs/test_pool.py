import random
import threading
import time

import pytest

from billion_songs.core.fake import FakeLyricsGenerator
from billion_songs.core.songwriting.plan import GENRES, MOODS, brief_for
from billion_songs.web.songs.data import services
from billion_songs.web.songs.runtime import web as runtime
from billion_songs.web.songs.data.models import Song
from billion_songs.web.songs.generation.filler import PoolFiller
from billion_songs.web.songs.generation.local_filler import LocalFillerThread
from billion_songs.web.songs.generation.memory_pool import MemoryPool
from billion_songs.web.songs.generation.priority import VisitorsFirst
from billion_songs.web.songs.generation.writer import SongWriter
from billion_songs.web.songs.data.tags import PoolEntry


def test_each_pooled_song_is_served_its_share_of_times_then_leaves():
    pool = MemoryPool(target=10, serves=3, rng=random.Random(0))
    pool.add([1, 2])
    served = [pool.take() for _ in range(6)]
    assert sorted(served) == [1, 1, 1, 2, 2, 2]
    assert pool.take() is None and len(pool) == 0
    marked = []
    assert pool.flush_exhausted(marked.extend) == 2 and sorted(marked) == [1, 2]
    assert pool.flush_exhausted(marked.extend) == 0


def test_pool_signals_the_filler_when_below_target():
    pool = MemoryPool(target=2, serves=1)
    assert pool.below_target.is_set()
    pool.add([1, 2])
    assert not pool.below_target.is_set()
    pool.take()
    assert pool.below_target.is_set()


def test_pool_take_is_safe_from_many_threads():
    pool = MemoryPool(target=10_000, serves=2)
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
    pool = MemoryPool(target=50_000, serves=10)
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
    pool = MemoryPool(target=10, serves=2)
    filler = LocalFillerThread(pool=pool, writer=SongWriter(generator=fake, priority=VisitorsFirst()), batch_size=4, idle_check=0.05)
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
    pool = MemoryPool(target=2, serves=1)
    filler = LocalFillerThread(pool=pool, writer=SongWriter(generator=FakeLyricsGenerator(), priority=VisitorsFirst()), batch_size=1, idle_check=0.05)
    filler.start()
    try:
        assert filler.restored.wait(5)
        served = pool.take()
        # Marked, and the new song that refills the pool stored (stopping the filler
        # earlier would abandon that batch).
        _wait(lambda: not Song.objects.get(pk=served).in_pool and len(pool) == 2)
    finally:
        filler.stop()
    restarted = MemoryPool(target=10, serves=1)
    PoolFiller(pool=restarted, writer=SongWriter(generator=FakeLyricsGenerator())).restore()
    assert served not in set(restarted._ids) and len(restarted) == 2  # one left + one new


@pytest.mark.django_db(transaction=True)
def test_filler_pauses_while_a_visitor_song_is_written():
    priority = VisitorsFirst()
    pool = MemoryPool(target=100, serves=1)
    fake = FakeLyricsGenerator()
    filler = LocalFillerThread(pool=pool, writer=SongWriter(generator=fake, priority=priority), batch_size=2, idle_check=0.05)
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
    pool = MemoryPool(target=10, serves=3)
    pool.add([1, 2, 3, 4, 5])
    assert pool.discard([2, 4, 99]) == 2
    assert len(pool) == 3
    assert {pool.take() for _ in range(9)} == {1, 3, 5}
    assert pool.take() is None


def _entries(ids) -> list[PoolEntry]:
    return [PoolEntry(i, brief_for(i).genre, brief_for(i).mood) for i in ids]


def test_a_narrowed_take_serves_only_matching_songs_their_share_of_times():
    entries = _entries(range(300))
    pool = MemoryPool(target=1000, serves=2, rng=random.Random(1))
    pool.add(entries)
    pool.add([1000, 1001])  # no tags known (songs stored before briefs): never narrowed to
    mood, genre = entries[0].mood, entries[0].genre
    sad = sorted(e.id for e in entries if e.mood == mood)
    served = []
    while (song_id := pool.take(mood=mood)) is not None:
        served.append(song_id)
    assert sorted(served) == sorted(sad * 2)  # each matching song twice, then none left
    marked = []
    pool.flush_exhausted(marked.extend)
    assert len(pool) == 302 - len(sad) and set(marked) == set(sad)
    folk = [e.id for e in entries if e.genre == genre and e.mood != mood]
    assert {pool.take(genre=genre) for _ in range(len(folk))} <= set(folk)
    both = next(e for e in entries if e.mood != mood and e.genre != genre)
    pair = [e.id for e in entries if (e.genre, e.mood) == (both.genre, both.mood)]
    assert {pool.take(genre=both.genre, mood=both.mood) for _ in range(len(pair))} <= set(pair)
    assert pool.take(mood="no such mood") is None
    assert pool.take() is not None  # unnarrowed takes still draw from everything


def test_a_narrowed_take_with_no_match_answers_none_and_serves_nothing():
    pool = MemoryPool(target=10, serves=3)
    pool.add([PoolEntry(1, "folk", "sad"), PoolEntry(2, "blues", "joyful"), 3])
    assert pool.take(mood="angry") is None and pool.take(genre="folk", mood="joyful") is None
    assert [pool.take(genre="folk", mood="sad") for _ in range(3)] == [1, 1, 1]
    assert pool.take(genre="folk") is None and len(pool) == 2


def test_tags_survive_swaps_when_songs_leave_and_are_discarded():
    pool = MemoryPool(target=100, serves=1, rng=random.Random(2))
    entries = [PoolEntry(i, GENRES[i % len(GENRES)], MOODS[i % 5]) for i in range(60)]
    pool.add(entries)
    pool.discard([e.id for e in entries[::7]])
    for _ in range(20):
        pool.take()  # each song served once leaves: swaps move the last ones around
    left = {pool._ids[i] for i in range(len(pool))}
    by_id = {e.id: e for e in entries}
    for mood in MOODS[:5]:
        expected = {i for i in left if by_id[i].mood == mood}
        taken = set()
        while (song_id := pool.take(mood=mood)) is not None:
            taken.add(song_id)
        assert taken == expected


def test_a_pool_of_50000_tagged_songs_is_small():
    import tracemalloc

    entries = _entries(range(50_000))
    tracemalloc.start()
    pool = MemoryPool(target=50_000, serves=10)
    pool.add(entries)
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert size < 1_000_000  # 11 bytes a song: id, serves left, mood, genre


class _EveryOther:
    """Ids that fail every attempt: the odd ones."""

    def __contains__(self, song_id: int) -> bool:
        return song_id % 2 == 1


@pytest.mark.django_db(transaction=True)
def test_failed_songs_never_enter_the_pool_from_the_filler_or_the_restore():
    failing = FakeLyricsGenerator(failing_ids=_EveryOther())
    pool = MemoryPool(target=12, serves=1)
    filler = LocalFillerThread(pool=pool, writer=SongWriter(generator=failing, priority=VisitorsFirst()), batch_size=4, idle_check=0.05)
    filler.start()
    try:
        _wait(lambda: len(pool) >= 12)
    finally:
        filler.stop()
    assert any(song_id % 2 for song_id in failing.generated_ids)  # failed songs were written...
    assert all(song_id % 2 == 0 for song_id in pool._ids)  # ...and none was pooled
    assert Song.objects.filter(ok=False).exists() and not Song.objects.filter(ok=False, in_pool=True).exists()
    Song.objects.create(id=99, title="", model_version="old", ok=False, in_pool=True)  # bad data from before
    restored = MemoryPool(target=100, serves=1)
    PoolFiller(pool=restored, writer=SongWriter(generator=FakeLyricsGenerator())).restore()
    assert len(restored) == Song.objects.filter(in_pool=True, ok=True).count()
    assert all(song_id % 2 == 0 for song_id in restored._ids)


@pytest.mark.django_db(transaction=True)
def test_the_restored_pool_keeps_the_tags():
    services.songs_store_for_pool(songs=FakeLyricsGenerator().generate(range(40)))
    pool = MemoryPool(target=100, serves=1)
    PoolFiller(pool=pool, writer=SongWriter(generator=FakeLyricsGenerator())).restore()
    mood = brief_for(0).mood
    taken = set()
    while (song_id := pool.take(mood=mood)) is not None:
        taken.add(song_id)
    assert taken == {i for i in range(40) if brief_for(i).mood == mood}
