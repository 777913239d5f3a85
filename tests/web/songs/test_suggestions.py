"""Title suggestions: services and selectors."""

import pytest
from django.contrib.auth.models import AnonymousUser

from billion_songs.web.songs.data import selectors, services
from billion_songs.web.songs.data.models import TitleSuggestion, TitleSuggestionVote
from tests.support.songs import store, users

pytestmark = pytest.mark.django_db


def test_suggest_normalizes_whitespace_and_strips_control_characters():
    store(1)
    (ann,) = users(1)
    made = services.title_suggestion_create(user=ann, song_id=1, text="  Night \n\t Train\u202e\x00 ")
    assert made.text == "Night Train"


@pytest.mark.parametrize("text, message", [
    ("", "Write a title first."),
    (" \n ", "Write a title first."),
    ("x" * 81, "at most 80 characters"),
])
def test_suggestions_need_a_title_of_at_most_80_characters(text, message):
    store(1)
    (ann,) = users(1)
    with pytest.raises(services.Refused, match=message):
        services.title_suggestion_create(user=ann, song_id=1, text=text)
    assert services.title_suggestion_create(user=ann, song_id=1, text="y" * 80).text == "y" * 80


def test_one_suggestion_per_visitor_per_song_and_no_duplicate_titles():
    store(1, 2)
    ann, bob = users(2)
    services.title_suggestion_create(user=ann, song_id=1, text="Night Train")
    with pytest.raises(services.Refused, match="already suggested a title"):
        services.title_suggestion_create(user=ann, song_id=1, text="Other")
    with pytest.raises(services.Refused, match="Vote for it instead"):
        services.title_suggestion_create(user=bob, song_id=1, text="night train")
    services.title_suggestion_create(user=bob, song_id=2, text="Night Train")  # another song: fine


def test_suggestions_are_rate_limited_per_visitor(settings):
    settings.TITLE_SUGGESTIONS_PER_HOUR = 3
    store(*range(1, 6))
    ann, bob = users(2)
    for song_id in (1, 2, 3):
        services.title_suggestion_create(user=ann, song_id=song_id, text=f"Title {song_id}")
    with pytest.raises(services.RateLimited):
        services.title_suggestion_create(user=ann, song_id=4, text="One too many")
    services.title_suggestion_create(user=bob, song_id=4, text="Bob's")  # others are not limited


def test_no_suggestions_for_missing_or_hidden_songs():
    store(2)
    services.songs_hide(song_ids=[2])
    (ann,) = users(1)
    for song_id in (1, 2):
        with pytest.raises(services.Unavailable):
            services.title_suggestion_create(user=ann, song_id=song_id, text="Nope")


def test_votes_on_suggestions_pick_the_best_one_shown_beside_the_title(settings):
    settings.TITLE_SUGGESTION_MIN_VOTERS = 1  # the minimum: test_moderation_rules.py
    store(1)
    ann, bob, cy, dee = users(4)
    first = services.title_suggestion_create(user=ann, song_id=1, text="First")
    second = services.title_suggestion_create(user=bob, song_id=1, text="<b>Second</b>")
    assert selectors.title_suggestion_best(song_id=1) is None  # no votes yet
    services.title_suggestion_vote(user=dee, suggestion_id=first.pk, value=1)
    assert selectors.title_suggestion_best(song_id=1).pk == first.pk
    for user in (cy, dee):
        services.title_suggestion_vote(user=user, suggestion_id=second.pk, value=1)
    services.title_suggestion_vote(user=cy, suggestion_id=first.pk, value=-1)
    assert selectors.title_suggestion_best(song_id=1).text == "<b>Second</b>"
    assert services.title_suggestion_vote(user=cy, suggestion_id=first.pk, value=1) == services.VoteChange(-1, 1)
    assert services.title_suggestion_vote(user=cy, suggestion_id=second.pk, value=0) == services.VoteChange(1, 0)
    first.refresh_from_db()
    assert (first.up, first.down, first.score) == (2, 0, 2)
    assert selectors.title_suggestion_best(song_id=1).pk == first.pk
    listed = selectors.title_suggestions(song_id=1, user=cy)
    assert [(s.text, s.score, s.my_vote, s.mine) for s in listed] == [("First", 2, 1, False), ("<b>Second</b>", 1, None, False)]
    assert [s.mine for s in selectors.title_suggestions(song_id=1, user=ann)] == [True, False]
    assert [s.my_vote for s in selectors.title_suggestions(song_id=1, user=AnonymousUser())] == [None, None]


def test_hidden_suggestions_leave_the_list_and_cannot_be_voted_on():
    store(1)
    ann, bob = users(2)
    made = services.title_suggestion_create(user=ann, song_id=1, text="Rude")
    services.title_suggestion_vote(user=bob, suggestion_id=made.pk, value=1)
    assert services.title_suggestions_hide(suggestion_ids=[made.pk]) == 1
    assert selectors.title_suggestions(song_id=1) == [] and selectors.title_suggestion_best(song_id=1) is None
    with pytest.raises(services.Unavailable):
        services.title_suggestion_vote(user=bob, suggestion_id=made.pk, value=-1)
    with pytest.raises(services.Unavailable):
        services.title_suggestion_vote(user=bob, suggestion_id=12345, value=1)


def test_the_visitors_own_suggestion_is_listed_even_when_not_among_the_best():
    store(1)
    people = users(7)
    made = [services.title_suggestion_create(user=u, song_id=1, text=f"T{i}") for i, u in enumerate(people)]
    services.title_suggestion_vote(user=people[1], suggestion_id=made[0].pk, value=1)
    for s in made[1:6]:
        services.title_suggestion_vote(user=people[0], suggestion_id=s.pk, value=1)
    listed = selectors.title_suggestions(song_id=1, user=people[6], limit=5)
    assert len(listed) == 6 and listed[-1].text == "T6" and listed[-1].mine


def test_deleting_a_user_recounts_the_suggestions_they_voted_on():
    store(1)
    ann, bob, cy = users(3)
    made = services.title_suggestion_create(user=ann, song_id=1, text="Stays")
    services.title_suggestion_vote(user=bob, suggestion_id=made.pk, value=1)
    services.title_suggestion_vote(user=cy, suggestion_id=made.pk, value=1)
    bob.delete()
    made.refresh_from_db()
    assert (made.up, made.score) == (1, 1) and TitleSuggestionVote.objects.count() == 1
    ann.delete()
    assert not TitleSuggestion.objects.exists()
