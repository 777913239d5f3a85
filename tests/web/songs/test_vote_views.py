"""The per-visitor endpoints (the /me fragment, votes, title suggestions, My votes) and
the public charts, through Django's test client."""

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from billion_songs.web.songs.data import services
from billion_songs.web.songs.data.models import SongTally, TitleSuggestion, Vote
from tests.support.songs import store, votes

pytestmark = pytest.mark.django_db
FRAGMENT = {"HTTP_X_FRAGMENT": "me"}
EVIL = '<script>alert("x")</script>'


@pytest.fixture
def ann(client):
    user = User.objects.create_user("ann", password="pw")
    client.force_login(user)
    return user


def test_anonymous_vote_goes_to_sign_in_and_back_to_the_song(songs_runtime):
    store(7)
    client = Client()
    me = client.get("/song/7/me").content.decode()
    assert 'class="button vote-up" href="/accounts/login?next=/song/7"' in me
    response = client.post("/song/7/vote", {"value": "up"})
    assert response.status_code == 302 and response["Location"] == "/accounts/login?next=/song/7"
    fragment = client.post("/song/7/vote", {"value": "up"}, **FRAGMENT)
    assert fragment.status_code == 401 and fragment["X-Sign-In"] == "/accounts/login?next=/song/7"
    User.objects.create_user("ann", password="a tune in the night 42")
    back = client.post("/accounts/login", {"username": "ann", "password": "a tune in the night 42", "next": "/song/7"})
    assert back["Location"] == "/song/7"
    assert not Vote.objects.exists()


def test_vote_change_and_withdraw_through_the_fragment(client, ann, songs_runtime):
    store(7)
    up = client.post("/song/7/vote", {"value": "up"}, **FRAGMENT)
    html = up.content.decode()
    assert up.status_code == 200 and up["Cache-Control"] == "private, no-store"
    assert 'value="up" aria-pressed="true"' in html and "▲ 1" in html and "you voted this up" in html
    down = client.post("/song/7/vote", {"value": "down"}, **FRAGMENT).content.decode()
    assert 'value="down" aria-pressed="true"' in down and "▼ 1" in down and "▲ 0" in down
    gone = client.post("/song/7/vote", {"value": "none"}, **FRAGMENT).content.decode()
    assert "you have not voted" in gone and "Withdraw my vote" not in gone
    assert not Vote.objects.exists()
    assert client.post("/song/7/vote", {"value": "sideways"}, **FRAGMENT).status_code == 400


def test_vote_without_javascript_redirects_back_to_the_song(client, ann, songs_runtime):
    store(7)
    response = client.post("/song/7/vote", {"value": "up"})
    assert response.status_code == 303 and response["Location"] == "/song/7#me"
    assert Vote.objects.get().value == 1
    services.songs_hide(song_ids=[7])
    refused = client.post("/song/7/vote", {"value": "down"})
    assert refused.status_code == 303
    assert "cannot be voted on" in client.get("/song/7/me").content.decode()  # shown once, as a message
    assert "cannot be voted on" not in client.get("/song/7/me").content.decode()


def test_votes_need_the_csrf_token(songs_runtime):
    store(7)
    user = User.objects.create_user("ann", password="pw")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post("/song/7/vote", {"value": "up"}, **FRAGMENT).status_code == 403
    me = strict.get("/song/7/me").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', me).group(1)
    assert strict.post("/song/7/vote", {"value": "up", "csrfmiddlewaretoken": token}, **FRAGMENT).status_code == 200
    assert Vote.objects.count() == 1


def test_votes_on_songs_that_cannot_be_voted_on(client, ann, songs_runtime):
    assert client.post("/song/8/vote", {"value": "up"}, **FRAGMENT).status_code == 410  # never written
    assert client.post("/song/abc/vote", {"value": "up"}).status_code == 404
    assert not SongTally.objects.exists()


def test_suggest_vote_and_see_the_best_beside_the_title_escaped(client, ann, songs_runtime, settings):
    settings.TITLE_SUGGESTION_MIN_VOTERS = 1  # the minimum: test_moderation_rules.py
    store(7)
    made = client.post("/song/7/suggestions", {"title": EVIL}, **FRAGMENT).content.decode()
    assert "&lt;script&gt;" in made and "<script>alert" not in made
    assert "(yours)" in made and 'id="suggest-title"' not in made  # one suggestion each
    suggestion = TitleSuggestion.objects.get()
    assert 'data-slot="suggested"' not in made  # no votes yet: nothing beside the title
    bob = Client()  # another listener: nobody votes on their own suggestion
    bob.force_login(User.objects.create_user("bob", password="pw"))
    voted = bob.post(f"/suggestions/{suggestion.pk}/vote", {"value": "up"}, **FRAGMENT).content.decode()
    assert re.search(r'data-slot="suggested">Listeners\' title: <q>&lt;script&gt;alert\(&quot;x&quot;\)&lt;/script&gt;</q>', voted)
    anonymous = Client().get("/song/7/me").content.decode()
    assert 'data-slot="suggested"' in anonymous and "Sign in to suggest a title" in anonymous
    assert "<script>alert" not in anonymous


def test_suggestion_errors_come_back_in_the_fragment(client, ann, songs_runtime, settings):
    store(7, 8)
    too_long = client.post("/song/7/suggestions", {"title": "x" * 81}, **FRAGMENT)
    assert too_long.status_code == 400 and "at most 80 characters" in too_long.content.decode()
    settings.TITLE_SUGGESTIONS_PER_HOUR = 1
    client.post("/song/7/suggestions", {"title": "Fine"}, **FRAGMENT)
    limited = client.post("/song/8/suggestions", {"title": "Again"}, **FRAGMENT)
    assert limited.status_code == 429 and "Try again later" in limited.content.decode()
    assert Client().post("/song/7/suggestions", {"title": "anon"})["Location"] == "/accounts/login?next=/song/7"
    assert client.post("/suggestions/999/vote", {"value": "up"}).status_code == 404


def test_charts_are_public_the_same_for_everyone_and_escaped(client, songs_runtime, settings):
    store(1, 2, title=EVIL)
    store(3)
    votes(1, 1, 1)
    votes(2, 1, -1, -1)
    votes(3, 1)
    anonymous = Client().get("/top")
    html = anonymous.content.decode()
    assert anonymous.status_code == 200 and "Set-Cookie" not in anonymous and "Vary" not in anonymous
    assert re.findall(r'<li data-song-id="(\d+)">', html) == ["1", "3"]
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    user = User.objects.first()
    client.force_login(user)
    assert client.get("/top").content == anonymous.content
    assert re.findall(r'<li data-song-id="(\d+)">', Client().get("/top/rated").content.decode()) == ["1", "3", "2"]
    assert re.findall(r'<li data-song-id="(\d+)">', Client().get("/top/week").content.decode()) == ["1", "3"]


def test_charts_are_cached_briefly(songs_runtime, settings):
    settings.CHART_CACHE_SECONDS = 30
    store(1)
    first = Client().get("/top")
    assert first["Cache-Control"] == "public, max-age=30"
    votes(1, 1)
    assert Client().get("/top").content == first.content  # the cached chart, for 30 s
    settings.CHART_CACHE_SECONDS = 0
    assert b'data-song-id="1"' in Client().get("/top").content


def test_my_votes_is_private_and_paged(client, ann, songs_runtime):
    assert Client().get("/top/mine")["Location"] == "/accounts/login?next=/top/mine"
    store(*range(1, 53))
    for song_id in range(1, 53):
        services.vote_cast(user=ann, song_id=song_id, value=1 if song_id % 2 else -1)
    page = client.get("/top/mine")
    assert page["Cache-Control"] == "private, no-store"
    assert len(re.findall(r"<li data-song-id", page.content.decode())) == 50 and b"Older" in page.content
    second = client.get("/top/mine?page=2").content.decode()
    assert len(re.findall(r"<li data-song-id", second)) == 2 and 'start="51"' in second


def test_song_page_bytes_do_not_change_when_votes_and_suggestions_do(client, ann, songs_runtime):
    from django.core.cache import cache

    store(7)
    before = Client().get("/song/7")
    client.post("/song/7/vote", {"value": "up"})
    client.post("/song/7/suggestions", {"title": "Better"})
    bob = User.objects.create_user("bob", password="pw")
    services.title_suggestion_vote(user=bob, suggestion_id=TitleSuggestion.objects.get().pk, value=1)
    cache.clear()  # rendered afresh from the database
    after = client.get("/song/7")
    assert after.content == before.content and after["ETag"] == before["ETag"]
    assert b"Better" not in after.content and b'id="suggested" hidden' in after.content
