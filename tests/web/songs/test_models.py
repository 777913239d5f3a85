"""Song ids span [0, 2**64-1], one bit more than a signed BIGINT: the storage mapping must
keep every id distinct, ordered and findable, through the ORM and through foreign keys."""

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum

from billion_songs.core.song import MAX_SONG_ID
from billion_songs.web.songs.data.models import Song, Vote

EDGES = [0, 1, 2**53 + 1, 2**63 - 1, 2**63, MAX_SONG_ID - 1, MAX_SONG_ID]


def make(song_id: int, **fields) -> Song:
    return Song.objects.create(id=song_id, title=f"t{song_id}", lyrics="a\nb", model_version="v1", **fields)


@pytest.mark.django_db
def test_edge_ids_round_trip_distinct_and_ordered():
    for song_id in reversed(EDGES):
        make(song_id)
    assert list(Song.objects.order_by("id").values_list("id", flat=True)) == EDGES
    for song_id in EDGES:
        assert Song.objects.get(pk=song_id).title == f"t{song_id}"
    assert Song.objects.filter(id__gte=2**63).count() == 3
    assert Song.objects.filter(id__in=[0, MAX_SONG_ID]).count() == 2


@pytest.mark.django_db
def test_ids_are_stored_shifted_into_the_signed_range():
    make(0)
    make(MAX_SONG_ID)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM songs_song ORDER BY id")
        assert [row[0] for row in cursor.fetchall()] == [-(2**63), 2**63 - 1]


@pytest.mark.django_db
def test_votes_reach_songs_at_both_ends_of_the_id_space():
    user = User.objects.create(username="ann")
    top, bottom = make(MAX_SONG_ID), make(0)
    Vote.objects.create(user=user, song=top, value=Vote.UP)
    Vote.objects.create(user=user, song_id=0, value=Vote.DOWN)
    assert Vote.objects.get(song_id=MAX_SONG_ID).song == top
    assert Vote.objects.filter(song=bottom).get().value == -1
    assert Vote.objects.filter(song_id__in=[0, MAX_SONG_ID]).count() == 2
    scores = Vote.objects.values("song_id").annotate(score=Sum("value")).order_by("song_id")
    assert list(scores) == [{"song_id": 0, "score": -1}, {"song_id": MAX_SONG_ID, "score": 1}]
    assert list(Song.objects.filter(votes__value=1).values_list("id", flat=True)) == [MAX_SONG_ID]


@pytest.mark.django_db
def test_one_vote_per_user_per_song_and_only_plus_or_minus_one():
    user, song = User.objects.create(username="ann"), make(5)
    Vote.objects.create(user=user, song=song, value=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Vote.objects.create(user=user, song=song, value=-1)
    other = User.objects.create(username="bob")
    with pytest.raises(IntegrityError), transaction.atomic():
        Vote.objects.create(user=other, song=song, value=2)


def test_validation_accepts_the_id_range_only():
    Song(id=MAX_SONG_ID, title="t", model_version="v").clean_fields()
    Song(id=0, title="t", model_version="v").clean_fields()
    with pytest.raises(ValidationError):
        Song(id=MAX_SONG_ID + 1, title="t", model_version="v").clean_fields()
    with pytest.raises(ValidationError):
        Song(id=-1, title="t", model_version="v").clean_fields()


def test_stanzas_split_at_blank_lines():
    song = Song(id=1, title="t", lyrics="a\nb\n\n\nc\n  \nd\n", model_version="v")
    assert song.stanzas == ["a\nb", "c", "d"]
    assert song.first_lines == ["a", "b"]


def test_stanzas_are_labelled_only_when_the_sections_line_up():
    song = Song(id=1, title="t", lyrics="a\nb\n\nc\n\nd", sections="verse chorus bridge", model_version="v")
    assert song.labelled_stanzas == [("verse", "a\nb"), ("chorus", "c"), ("bridge", "d")]
    assert song.section_list[0] == {"kind": "verse", "lines": ["a", "b"]}
    song.sections = "verse chorus"  # does not match the lyrics: no labels rather than wrong ones
    assert song.labelled_stanzas == [("", "a\nb"), ("", "c"), ("", "d")] and song.section_list == []
    song.sections = ""  # a song stored before sections were kept
    assert [kind for kind, _ in song.labelled_stanzas] == ["", "", ""] and song.brief is None
