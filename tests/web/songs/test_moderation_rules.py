"""Moderation rules: nobody votes on their own title suggestion; a suggestion shows beside
the title only once enough other listeners voted; admin actions need the change
permission; songs cannot be deleted in the admin."""

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from billion_songs.web.songs.data import selectors, services
from billion_songs.web.songs.data.models import Song, TitleSuggestion, TitleSuggestionVote
from tests.support.songs import store, users
from tests.web.songs.on_postgresql import rerun_on_postgresql

pytestmark = pytest.mark.django_db
FRAGMENT = {"HTTP_X_FRAGMENT": "me"}


def test_no_vote_on_ones_own_suggestion():
    store(1)
    ann, bob = users(2)
    made = services.title_suggestion_create(user=ann, song_id=1, text="Mine")
    for value in (1, -1, 0):
        with pytest.raises(services.Refused):
            services.title_suggestion_vote(user=ann, suggestion_id=made.pk, value=value)
    assert services.title_suggestion_vote(user=bob, suggestion_id=made.pk, value=1) == services.VoteChange(0, 1)
    made.refresh_from_db()
    assert (made.up, made.down, made.score) == (1, 0, 1)
    assert TitleSuggestionVote.objects.filter(user=ann).count() == 0


def test_the_fragment_refuses_a_self_vote_and_offers_no_buttons_for_it(client, songs_runtime):
    store(1)
    ann, bob = users(2)
    made = services.title_suggestion_create(user=ann, song_id=1, text="Mine")
    client.force_login(ann)
    refused = client.post(f"/suggestions/{made.pk}/vote", {"value": "up"}, **FRAGMENT)
    assert refused.status_code == 400 and b"your own" in refused.content
    assert not TitleSuggestionVote.objects.exists()
    assert f'action="/suggestions/{made.pk}/vote"'.encode() not in client.get("/song/1/me").content
    client.force_login(bob)
    assert f'action="/suggestions/{made.pk}/vote"'.encode() in client.get("/song/1/me").content


def test_a_suggestion_shows_beside_the_title_only_after_enough_distinct_voters(client, songs_runtime, settings):
    settings.TITLE_SUGGESTION_MIN_VOTERS = 3
    store(1)
    author, *voters = users(4)
    made = services.title_suggestion_create(user=author, song_id=1, text="Crowd pick")
    for count, voter in enumerate(voters, start=1):
        services.title_suggestion_vote(user=voter, suggestion_id=made.pk, value=1)
        best = selectors.title_suggestion_best(song_id=1)
        shown = b"Listeners' title" in client.get("/song/1/me").content
        if count < 3:
            assert best is None and not shown, count
        else:
            assert best.pk == made.pk and shown


def test_an_old_self_vote_does_not_count_as_a_voter(settings):
    """Votes cast before self-votes were refused stay in the counts, not in the voters."""
    settings.TITLE_SUGGESTION_MIN_VOTERS = 2
    store(1)
    author, bob = users(2)
    made = services.title_suggestion_create(user=author, song_id=1, text="Pushed")
    TitleSuggestionVote.objects.create(user=author, suggestion=made, value=1)
    services.title_suggestion_vote(user=bob, suggestion_id=made.pk, value=1)
    services.title_suggestions_recount(suggestion_ids=[made.pk])
    assert TitleSuggestion.objects.get(pk=made.pk).score == 2
    assert selectors.title_suggestion_best(song_id=1) is None


def _staff(*codenames: str) -> Client:
    user = User.objects.create_user(f"staff-{'-'.join(codenames) or 'none'}", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="songs", codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def test_view_only_staff_cannot_hide_or_show_songs(songs_runtime, django_capture_on_commit_callbacks):
    store(5)
    viewer = _staff("view_song", "view_titlesuggestion")
    listing = viewer.get("/admin/songs/song/")
    assert listing.status_code == 200 and b"Hide the selected songs" not in listing.content
    with django_capture_on_commit_callbacks(execute=True):
        viewer.post("/admin/songs/song/", {"action": "hide", "_selected_action": ["5"]})
    assert Song.objects.get(pk=5).hidden is False
    made = services.title_suggestion_create(user=users(1)[0], song_id=5, text="Fine")
    viewer.post("/admin/songs/titlesuggestion/", {"action": "hide", "_selected_action": [str(made.pk)]})
    assert TitleSuggestion.objects.get(pk=made.pk).hidden is False

    editor = _staff("view_song", "change_song", "view_titlesuggestion", "change_titlesuggestion")
    assert b"Hide the selected songs" in editor.get("/admin/songs/song/").content
    with django_capture_on_commit_callbacks(execute=True):
        editor.post("/admin/songs/song/", {"action": "hide", "_selected_action": ["5"]})
    assert Song.objects.get(pk=5).hidden is True
    editor.post("/admin/songs/titlesuggestion/", {"action": "hide", "_selected_action": [str(made.pk)]})
    assert TitleSuggestion.objects.get(pk=made.pk).hidden is True


def test_songs_cannot_be_deleted_in_the_admin(songs_runtime):
    store(5)
    boss = Client()
    boss.force_login(User.objects.create_superuser("boss", password="pw"))
    assert b"delete_selected" not in boss.get("/admin/songs/song/").content
    boss.post("/admin/songs/song/", {"action": "delete_selected", "_selected_action": ["5"], "post": "yes"})
    assert boss.get("/admin/songs/song/5/delete/").status_code == 403
    boss.post("/admin/songs/song/5/delete/", {"post": "yes"})
    assert Song.objects.filter(pk=5).exists()


def test_the_same_on_postgresql():
    rerun_on_postgresql(__file__)
