import random
from collections import Counter

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User

from billion_songs.core.fake import FakeLyricsGenerator
from billion_songs.core.songwriting.plan import MOODS, brief_for
from billion_songs.web.songs.data import services
from billion_songs.web.songs.generation.picker import RandomSongs
from billion_songs.web.songs.generation.memory_pool import MemoryPool
from billion_songs.web.songs.data.tags import Narrowing, PoolEntry


def picker(pool: MemoryPool, share: float = 0.25, seed: int = 0) -> RandomSongs:
    return RandomSongs(pool=pool, voted_share=share, voted_refresh=3600.0, voted_limit=100, rng=random.Random(seed))


def store(*ids: int) -> None:
    for song in FakeLyricsGenerator().generate(ids):
        services.song_store(song=song)


def vote(song_id: int, *values: int) -> None:
    for value in values:
        user = User.objects.create(username=f"u{User.objects.count()}")
        services.vote_cast(user=user, song_id=song_id, value=value)


@pytest.mark.django_db
def test_a_quarter_of_the_picks_go_to_voted_up_songs_weighted_by_score():
    store(1, 2, 3)
    vote(1, 1, 1, 1)  # score 3
    vote(2, 1)  # score 1
    vote(3, 1, -1, -1)  # score -1: never picked for its votes
    pool = MemoryPool(target=10_000, serves=255)
    pool.add(range(1000, 1100))
    choice = picker(pool)
    counts = Counter(choice.pick() for _ in range(4000))
    voted = counts[1] + counts[2]
    assert 0.22 < voted / 4000 < 0.28
    assert 2.4 < counts[1] / counts[2] < 3.8  # 3:1
    assert counts[3] == 0


@pytest.mark.django_db
def test_with_no_votes_every_pick_comes_from_the_pool():
    pool = MemoryPool(target=10, serves=255)
    pool.add([7, 8])
    choice = picker(pool)
    assert {choice.pick() for _ in range(50)} == {7, 8}


@pytest.mark.django_db
def test_a_dry_pool_falls_back_to_stored_songs_then_to_a_new_id():
    pool = MemoryPool(target=10, serves=1)
    choice = picker(pool, share=0.0)
    new_id = choice.pick()  # empty database: a never-seen id, whose page streams
    assert 0 <= new_id < 2**64
    store(42)
    assert {choice.pick() for _ in range(10)} == {42}


@pytest.mark.django_db
def test_async_pick_matches_sync_rules():
    pool = MemoryPool(target=10, serves=5)
    pool.add([5])
    assert async_to_sync(picker(pool).apick)() == 5


def _entries(ids) -> list[PoolEntry]:
    return [PoolEntry(i, brief_for(i).genre, brief_for(i).mood) for i in ids]


@pytest.mark.django_db
def test_narrowed_picks_come_from_matching_pooled_and_voted_up_songs_only():
    voted = list(range(1, 60))
    store(*voted)
    for song_id in voted:
        vote(song_id, 1)
    pool = MemoryPool(target=10_000, serves=255)
    pool.add(_entries(range(1000, 1300)))
    mood = brief_for(1).mood
    choice = picker(pool, share=0.5)
    picks = [choice.pick(Narrowing(mood=mood)) for _ in range(400)]
    assert all(brief_for(song_id).mood == mood for song_id in picks)
    from_votes = [song_id for song_id in picks if song_id < 1000]
    assert 0.4 < len(from_votes) / len(picks) < 0.6  # the voted share narrows too
    genre = brief_for(1).genre
    both = Narrowing(genre=genre, mood=mood)
    assert all(both.matches(genre=brief_for(i).genre, mood=brief_for(i).mood)
               for i in (choice.pick(both) for _ in range(50)))


@pytest.mark.django_db
def test_a_narrowed_pick_with_no_pooled_match_falls_back_to_a_stored_song_then_to_a_fresh_id():
    pool = MemoryPool(target=10, serves=255)
    pool.add(_entries([7]))
    mood = next(m for m in MOODS if m != brief_for(7).mood)
    stored = next(i for i in range(100, 10_000) if brief_for(i).mood == mood)
    choice = picker(pool, share=0.0)
    fresh = choice.pick(Narrowing(mood=mood))  # nothing stored either: an id whose brief has it
    assert fresh not in (7, stored) and brief_for(fresh).mood == mood
    store(stored)
    assert {choice.pick(Narrowing(mood=mood)) for _ in range(5)} == {stored}
    genre, other_mood = brief_for(stored).genre, brief_for(7).mood
    fresh = async_to_sync(choice.apick)(Narrowing(genre=genre, mood=other_mood))
    assert (brief_for(fresh).genre, brief_for(fresh).mood) == (genre, other_mood)
    assert choice.pick() == 7  # unnarrowed: the pool as before
