"""Voting services and the selectors that read votes: counts, charts, My votes."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.utils import timezone

from billion_songs.core.fake import FakeLyricsGenerator
from billion_songs.core.song import MAX_SONG_ID
from billion_songs.web.songs.data import selectors, services, vote_counts
from billion_songs.web.songs.data.models import SongTally, Vote
from billion_songs.web.songs.data.ranking import wilson_lower_bound
from tests.support.songs import store, users, votes

pytestmark = pytest.mark.django_db


def tally(song_id: int) -> tuple[int, int, int]:
    t = SongTally.objects.get(song_id=song_id)
    assert t.wilson == pytest.approx(wilson_lower_bound(t.up, t.down))
    return t.up, t.down, t.score


def test_cast_change_withdraw_and_repeat():
    store(MAX_SONG_ID)
    (ann,) = users(1)
    assert services.vote_cast(user=ann, song_id=MAX_SONG_ID, value=1) == services.VoteChange(0, 1)
    assert tally(MAX_SONG_ID) == (1, 0, 1)
    assert services.vote_cast(user=ann, song_id=MAX_SONG_ID, value=1) == services.VoteChange(1, 1)  # no-op
    assert tally(MAX_SONG_ID) == (1, 0, 1)
    assert services.vote_cast(user=ann, song_id=MAX_SONG_ID, value=-1) == services.VoteChange(1, -1)
    assert tally(MAX_SONG_ID) == (0, 1, -1)
    assert Vote.objects.get().value == -1  # changed in place: still one row
    assert services.vote_cast(user=ann, song_id=MAX_SONG_ID, value=0) == services.VoteChange(-1, 0)
    assert tally(MAX_SONG_ID) == (0, 0, 0) and not Vote.objects.exists()
    assert services.vote_cast(user=ann, song_id=MAX_SONG_ID, value=0) == services.VoteChange(0, 0)
    with pytest.raises(ValueError):
        services.vote_cast(user=ann, song_id=MAX_SONG_ID, value=2)
    assert selectors.tally_mismatches() == []


def test_missing_failed_and_hidden_songs_cannot_be_voted_on():
    (ann,) = users(1)
    services.song_store(song=FakeLyricsGenerator(failing_ids=frozenset({2})).generate([2])[0])
    store(3)
    services.songs_hide(song_ids=[3])
    for song_id in (1, 2, 3):
        with pytest.raises(services.Unavailable):
            services.vote_cast(user=ann, song_id=song_id, value=1)
    assert not Vote.objects.exists() and not SongTally.objects.exists()


def test_summary_for_anonymous_and_signed_in_visitors():
    store(9)
    votes(9, 1, 1, -1)
    (ann,) = users(1)
    services.vote_cast(user=ann, song_id=9, value=-1)
    assert vote_counts.song_vote_summary(song_id=9, user=AnonymousUser()) == {"up": 2, "down": 2, "score": 0, "mine": None}
    assert vote_counts.song_vote_summary(song_id=9, user=ann)["mine"] == -1
    assert vote_counts.song_vote_summary(song_id=10, user=ann) == {"up": 0, "down": 0, "score": 0, "mine": None}


def test_top_10_by_net_score_without_hidden_failed_or_non_positive_songs():
    store(*range(1, 14))
    for song_id in range(1, 13):
        votes(song_id, *([1] * song_id))
    votes(13, 1, -1)  # score 0: not in the chart
    services.songs_hide(song_ids=[12])
    top = selectors.chart_top()
    assert [e.song_id for e in top] == [11, 10, 9, 8, 7, 6, 5, 4, 3, 2]
    assert (top[0].up, top[0].down, top[0].score) == (11, 0, 11)
    assert top[0].title == selectors.song_get(song_id=11).title


def test_ties_go_to_more_up_votes_then_the_lower_id():
    store(1, 2, 3)
    votes(1, 1)
    votes(2, 1, 1, -1)
    votes(3, 1)
    assert [e.song_id for e in selectors.chart_top()] == [2, 1, 3]


def test_best_rated_does_not_let_one_lucky_vote_win():
    store(1, 2, 3)
    votes(1, *([1] * 18 + [-1] * 2))  # 90%, 20 votes
    votes(2, 1)  # one lucky vote: 100%
    votes(3, -1)  # nothing up: not rated
    rated = selectors.chart_best_rated()
    assert [e.song_id for e in rated] == [1, 2]
    assert rated[0].wilson > rated[1].wilson


def test_this_week_counts_only_votes_of_the_last_seven_days():
    store(1, 2, 3)
    votes(1, 1, 1, 1)
    votes(2, 1, 1)
    votes(3, 1)
    Vote.objects.filter(song_id=1).update(updated=timezone.now() - timedelta(days=8))
    Vote.objects.filter(song_id=3).update(updated=timezone.now() - timedelta(days=6))
    week = selectors.chart_week()
    assert [(e.song_id, e.score) for e in week] == [(2, 2), (3, 1)]
    assert [e.song_id for e in selectors.chart_week(now=timezone.now() + timedelta(days=7))] == []


def test_my_votes_latest_first_with_removed_songs_marked():
    store(1, 2, 3)
    (ann,) = users(1)
    for song_id, value in ((1, 1), (2, -1), (3, 1)):
        services.vote_cast(user=ann, song_id=song_id, value=value)
    Vote.objects.filter(song_id=1).update(updated=timezone.now() + timedelta(seconds=5))
    services.songs_hide(song_ids=[3])
    mine = selectors.user_votes(user=ann)
    assert [(v.song_id, v.value, v.removed) for v in mine] == [(1, 1, False), (3, 1, True), (2, -1, False)]
    assert [v.song_id for v in selectors.user_votes(user=ann, limit=1, offset=1)] == [3]
    assert selectors.user_activity(user=ann) == {"up": 2, "down": 1, "suggestions": 0}


def test_voted_up_scores_for_make_random_come_from_the_tallies_without_hidden_songs():
    store(1, 2, 3, 4)
    votes(1, 1, 1, 1)
    votes(2, 1, -1)
    votes(3, 1)
    votes(4, 1, 1)
    services.songs_hide(song_ids=[4])
    assert [(v.song_id, v.score) for v in selectors.song_scores_voted_up(limit=10)] == [(1, 3), (3, 1)]
    assert [(v.song_id, v.score) for v in selectors.song_scores_voted_up(limit=1)] == [(1, 3)]


def test_recount_repairs_counts_changed_behind_the_services_back():
    store(1, 2)
    votes(1, 1, 1, -1)
    votes(2, 1)
    Vote.objects.filter(song_id=1, value=1).first().delete()  # not through a service
    SongTally.objects.filter(song_id=2).update(up=7, score=7)
    assert {m[0] for m in selectors.tally_mismatches()} == {1, 2}
    assert services.tallies_recount() == 2
    assert selectors.tally_mismatches() == []
    assert tally(1) == (1, 1, 0) and tally(2) == (1, 0, 1)
    assert services.tallies_recount(song_ids=[1, 2, 99]) == 0


def test_deleting_votes_or_a_user_keeps_the_counts_exact():
    store(1, 2)
    ann, bob = users(2)
    for user in (ann, bob):
        services.vote_cast(user=user, song_id=1, value=1)
        services.vote_cast(user=user, song_id=2, value=-1)
    assert services.votes_delete(vote_ids=Vote.objects.filter(user=bob, song_id=2).values_list("pk", flat=True)) == 1
    assert tally(2) == (0, 1, -1)
    ann.delete()  # the cascade deletes her votes; a signal recounts
    assert tally(1) == (1, 0, 1) and tally(2) == (0, 0, 0)
    assert selectors.tally_mismatches() == []


def test_votes_at_both_ends_of_the_id_space():
    store(0, MAX_SONG_ID)
    votes(0, 1, 1)
    votes(MAX_SONG_ID, 1)
    assert [(e.song_id, e.score) for e in selectors.chart_top()] == [(0, 2), (MAX_SONG_ID, 1)]
    assert isinstance(User.objects.first(), User)
