import random

import pytest
from django.contrib.auth.models import User

from billion_songs.core.fake import FakeLyricsGenerator
from billion_songs.core.song import MAX_SONG_ID
from billion_songs.core.song import Song as GeneratedSong
from billion_songs.core.songwriting.plan import FORMS, MOODS, brief_for
from billion_songs.web.songs.data import selectors, services, vote_counts
from billion_songs.web.songs.data.models import Song
from billion_songs.web.songs.data.tags import Narrowing

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
    pooled = services.songs_store_for_pool(songs=songs)
    assert [entry.id for entry in pooled] == [2, 0]
    assert [(entry.genre, entry.mood) for entry in pooled] == [(brief_for(2).genre, brief_for(2).mood),
                                                              (brief_for(0).genre, brief_for(0).mood)]
    assert set(Song.objects.filter(in_pool=True).values_list("id", flat=True)) == {0, 2}
    assert Song.objects.count() == 4 and Song.objects.get(pk=3).ok is False


def test_songs_store_for_pool_pools_only_what_it_stored_as_pooled():
    # A visitor's flight stored the id as a failed song between the check and the insert
    # (PostgreSQL): the insert skips it, and it must not be pooled.
    services.song_store(song=FakeLyricsGenerator(failing_ids=frozenset({4})).generate([4])[0])
    rows = [services._row(song, in_pool=True) for song in FakeLyricsGenerator().generate([4, 5])]
    Song.objects.bulk_create(rows, ignore_conflicts=True)  # what the race leaves behind
    assert services.songs_store_for_pool(songs=FakeLyricsGenerator().generate([4, 5])) == []
    assert set(Song.objects.filter(in_pool=True).values_list("id", flat=True)) == {5}


def test_pooled_songs_newest_first_and_leaving_the_pool():
    services.songs_store_for_pool(songs=FakeLyricsGenerator().generate([10, 11, 12]))
    assert {entry.id for entry in selectors.song_pool_entries(limit=10)} == {10, 11, 12}
    assert len(selectors.song_pool_entries(limit=2)) == 2
    assert services.songs_leave_pool(song_ids=[11]) == 1
    assert {entry.id for entry in selectors.song_pool_entries(limit=10)} == {10, 12}
    assert all(entry.mood == brief_for(entry.id).mood for entry in selectors.song_pool_entries(limit=10))


def test_failed_or_hidden_songs_are_never_restored_into_the_pool():
    Song.objects.create(id=30, title="", lyrics="", model_version="old", ok=False, in_pool=True)  # bad old data
    services.songs_store_for_pool(songs=FakeLyricsGenerator().generate([31, 32]))
    services.songs_hide(song_ids=[32])
    assert [entry.id for entry in selectors.song_pool_entries(limit=10)] == [31]


def test_song_store_keeps_the_brief_and_the_kind_of_each_stanza():
    song = generated(77)
    stored = services.song_store(song=song)
    brief = brief_for(77)
    assert (stored.genre, stored.mood, stored.topic, stored.form) == (brief.genre, brief.mood, brief.topic, brief.form)
    assert stored.sections == " ".join(FORMS[brief.form]) == " ".join(song.form)
    assert stored.brief == brief.as_dict()
    assert [kind for kind, _ in stored.labelled_stanzas] == list(FORMS[brief.form])
    assert stored.section_list == [{"kind": s.kind, "lines": list(s.lines)} for s in song.sections]


def test_a_song_without_a_brief_stores_blanks():
    stored = services.song_store(song=generated(78, brief=None, sections=()))
    assert (stored.genre, stored.mood, stored.topic, stored.form, stored.sections) == ("", "", "", "", "")
    assert stored.brief is None and stored.section_list == []
    assert all(kind == "" for kind, _ in stored.labelled_stanzas)


def test_random_stored_id_narrowed_to_a_genre_and_a_mood():
    ids = range(100, 160)
    services.songs_store_for_pool(songs=FakeLyricsGenerator().generate(ids))
    sad = [i for i in ids if brief_for(i).mood == brief_for(100).mood]
    rng = random.Random(3)
    narrowing = Narrowing(mood=brief_for(100).mood)
    assert {selectors.song_random_stored_id(rng=rng, narrowing=narrowing) for _ in range(40)} <= set(sad)
    both = Narrowing(genre=brief_for(100).genre, mood=brief_for(100).mood)
    assert selectors.song_random_stored_id(rng=rng, narrowing=both) in {
        i for i in ids if both.matches(genre=brief_for(i).genre, mood=brief_for(i).mood)}
    absent = next(m for m in MOODS if all(brief_for(i).mood != m for i in ids))
    assert selectors.song_random_stored_id(rng=rng, narrowing=Narrowing(mood=absent)) is None


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
    voted = selectors.song_scores_voted_up(limit=10)
    assert [(v.song_id, v.score) for v in voted] == [(1, 3), (3, 1)]
    assert (voted[0].genre, voted[0].mood) == (brief_for(1).genre, brief_for(1).mood)


def test_vote_summary_for_anonymous_and_signed_in_visitors():
    from django.contrib.auth.models import AnonymousUser

    user = User.objects.create(username="ann")
    services.song_store(song=generated(9))
    services.vote_cast(user=user, song_id=9, value=-1)
    assert vote_counts.song_vote_summary(song_id=9, user=AnonymousUser()) == {"up": 0, "down": 1, "score": -1, "mine": None}
    assert vote_counts.song_vote_summary(song_id=9, user=user)["mine"] == -1
