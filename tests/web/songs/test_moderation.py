"""Hiding songs and suggestions: the service's effects, and the admin that drives it."""

import json

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client

from billion_songs.web.songs.data import selectors, services
from billion_songs.web.songs.data.models import Song, SongTally, TitleSuggestion, Vote
from tests.support.songs import store, users, votes

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("boss", password="pw"))
    return client


def test_a_hidden_song_leaves_pool_charts_and_make_random_and_its_page_says_removed(client, songs_runtime, django_capture_on_commit_callbacks):
    store(5, 6)
    votes(5, 1, 1)
    votes(6, 1)
    songs_runtime.pool.add([5, 6])
    Song.objects.filter(pk=5).update(in_pool=True)
    page = client.get("/song/5")
    assert page.status_code == 200 and client.get("/api/songs/5").status_code == 200  # now cached
    with django_capture_on_commit_callbacks(execute=True):
        assert services.songs_hide(song_ids=[5]) == 1
    assert Song.objects.get(pk=5).in_pool is False
    assert [e.song_id for e in selectors.chart_top()] == [6]
    assert songs_runtime.pool.discard([5]) == 0 and len(songs_runtime.pool) == 1  # already taken out
    assert {songs_runtime.random.pick() for _ in range(20)} == {6}
    removed = client.get("/song/5")
    assert removed.status_code == 410 and b"This song was removed" in removed.content
    assert removed["Cache-Control"] == "public, max-age=300"
    assert page.content.split(b"<h1")[1] not in removed.content
    api = client.get("/api/songs/5")
    assert api.status_code == 410 and json.loads(api.content)["error"] == "this song was removed"
    assert "This song was removed" in client.get("/song/5/me").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        services.songs_hide(song_ids=[5], hidden=False)
    assert client.get("/song/5").content == page.content


def test_the_page_cache_is_purged_for_every_host(client, songs_runtime, settings, django_capture_on_commit_callbacks):
    settings.SITE_URL = ""
    settings.ALLOWED_HOSTS = ["a.test", "b.test", "testserver"]
    store(5)
    for host in ("a.test", "b.test"):
        assert client.get("/song/5", HTTP_HOST=host).status_code == 200
    assert cache.get(f"songs:html:{settings.SONG_PAGE_CACHE_VERSION}:5").keys() == {"http://a.test", "http://b.test"}
    with django_capture_on_commit_callbacks(execute=True):
        services.songs_hide(song_ids=[5])
    assert cache.get(f"songs:html:{settings.SONG_PAGE_CACHE_VERSION}:5") is None
    assert client.get("/song/5", HTTP_HOST="b.test").status_code == 410


def test_admin_hides_and_shows_songs(admin_client, songs_runtime, django_capture_on_commit_callbacks):
    store(5, 6)
    assert admin_client.get("/admin/songs/song/").status_code == 200
    assert b"Hide the selected songs" in admin_client.get("/admin/songs/song/").content
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/songs/song/", {"action": "hide", "_selected_action": ["5"]})
    assert response.status_code == 302
    assert Song.objects.get(pk=5).hidden and not Song.objects.get(pk=6).hidden
    assert admin_client.get("/song/5").status_code == 410
    change = admin_client.get("/admin/songs/song/6/change/")
    assert change.status_code == 200 and b'name="hidden"' in change.content and b'name="title"' not in change.content
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post("/admin/songs/song/6/change/", {"hidden": "on"})
    assert Song.objects.get(pk=6).hidden and Client().get("/song/6").status_code == 410
    admin_client.post("/admin/songs/song/", {"action": "unhide", "_selected_action": ["5", "6"]})
    assert not Song.objects.filter(hidden=True).exists()
    found = admin_client.get("/admin/songs/song/?q=6").content.decode()
    assert "/admin/songs/song/6/change/" in found


def test_admin_hides_suggestions(admin_client, songs_runtime):
    store(5)
    (ann,) = users(1)
    made = services.title_suggestion_create(user=ann, song_id=5, text="Rude words")
    assert b"Rude words" in admin_client.get("/admin/songs/titlesuggestion/").content
    admin_client.post("/admin/songs/titlesuggestion/", {"action": "hide", "_selected_action": [str(made.pk)]})
    assert TitleSuggestion.objects.get().hidden
    assert "Rude words" not in Client().get("/song/5/me").content.decode()


def test_admin_deletes_votes_and_the_counts_follow(admin_client, songs_runtime):
    store(5)
    votes(5, 1, 1, -1)
    down = Vote.objects.get(value=-1)
    assert admin_client.get("/admin/songs/vote/").status_code == 200
    admin_client.post("/admin/songs/vote/", {"action": "delete_selected", "_selected_action": [str(down.pk)],
                                             "post": "yes"})
    assert not Vote.objects.filter(pk=down.pk).exists()
    tally = SongTally.objects.get(song_id=5)
    assert (tally.up, tally.down, tally.score) == (2, 0, 2)
    user = Vote.objects.first().user
    admin_client.post(f"/admin/auth/user/{user.pk}/delete/", {"post": "yes"})
    assert SongTally.objects.get(song_id=5).up == 1 and selectors.tally_mismatches() == []


def test_admin_needs_staff(client, songs_runtime):
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    client.force_login(User.objects.create_user("ann", password="pw"))
    assert client.get("/admin/songs/song/").status_code == 302
