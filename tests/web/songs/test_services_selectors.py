import random

import pytest
from django.contrib.auth.models import User

from billion_songs.core.fake import FakeLyricsGenerator
from billion_songs.core.song import MAX_SONG_ID
from billion_songs.core.song import Song as GeneratedSong
from billion_songs.web.songs import selectors, services
from billion_songs.web.songs.models import Song

pytestmark = pytest.mark.django_db


def generated(song_id: int, **changes) -> GeneratedSong:
    song = FakeLyricsGenerator().generate([song_id])[0]
    return GeneratedSong(**{**song.__dict__, **changes})


def test_song_store_keeps_the_first_song_of_an_id_forever():
    first = services.song_store(song=generated(MAX_SONG_ID))
    again = services.song_store(song=generated(MAX_SONG_ID, title="Another", model_version="fake-2"))
    assert again.title == first.title and again.model_version == "fake-1"
    assert Song.objects.get(pk=MAX_SONG_ID).title == first.title


def test_song_store_records_a_failed_song_with_its_reasons():
    failed = FakeLyricsGenerator(failing_ids=frozenset({7})).generate([7])[0]
    stored = services.song_store(song=failed, in_pool=True)
    assert (stored.ok, stored.attempts, stored.in_pool) == (False, 3, False)
    assert "too_short" in stored.failure_reason


def test_songs_store_for_pool_skips_stored_and_failed_ids():
    services.song_store(song=generated(1))  # a visitor got there first
    songs = FakeLyricsGenerator(failing_ids=frozenset({3})).generate([1, 2, 3, 0])
    assert services.songs_store_for_pool(songs=songs) == [2, 0]
    assert set(Song.objects.filter(in_pool=True).values_list("id", flat=True)) == {0, 2}
    assert Song.objects.count() == 4


def test_pooled_ids_newest_first_and_leaving_the_pool():
    services.songs_store_for_pool(songs=FakeLyricsGenerator().generate([10, 11, 12]))
    assert set(selectors.song_ids_pooled(limit=10)) == {10, 11, 12}
    assert len(selectors.song_ids_pooled(limit=2)) == 2
    assert services.songs_leave_pool(song_ids=[11]) == 1
    assert set(selectors.song_ids_pooled(limit=10)) == {10, 12}


def test_random_stored_id_wraps_around_and_skips_failed_songs():
    assert selectors.song_random_stored_id() is None
    services.song_store(song=generated(5))
    services.song_store(song=FakeLyricsGenerator(failing_ids=frozenset({MAX_SONG_ID})).generate([MAX_SONG_ID])[0])
    rng = random.Random(1)
    assert {selectors.song_random_stored_id(rng=rng) for _ in range(20)} == {5}


def test_scores_voted_up_net_of_down_votes():
    users = [User.objects.create(username=f"u{i}") for i in range(3)]
    for song_id in (1, 2, 3):
        services.song_store(song=generated(song_id))
    for user in users:
        services.vote_cast(user=user, song_id=1, value=1)
    services.vote_cast(user=users[0], song_id=2, value=1)
    services.vote_cast(user=users[1], song_id=2, value=-1)
    services.vote_cast(user=users[0], song_id=3, value=1)
    assert selectors.song_scores_voted_up(limit=10) == [(1, 3), (3, 1)]


def test_vote_summary_for_anonymous_and_signed_in_visitors():
    from django.contrib.auth.models import AnonymousUser

    user = User.objects.create(username="ann")
    services.song_store(song=generated(9))
    services.vote_cast(user=user, song_id=9, value=-1)
    assert selectors.song_vote_summary(song_id=9, user=AnonymousUser()) == {"up": 0, "down": 1, "score": -1, "mine": None}
    assert selectors.song_vote_summary(song_id=9, user=user)["mine"] == -1
