"""Votes are cheap and do not queue behind Django's one thread per process: few queries
per vote (the refreshed fragment included), and votes answered in parallel."""

import http.client
import random
import re
import threading
import time
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.db import connection
from django.middleware.csrf import _mask_cipher_secret, _unmask_cipher_token
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils.crypto import get_random_string

from billion_songs.web.songs.data import selectors, services
from billion_songs.web.songs.data.models import SongTally, TitleSuggestion, Vote
from tests.support.songs import store, users
from tests.web.songs.on_postgresql import rerun_on_postgresql

FRAGMENT = {"HTTP_X_FRAGMENT": "me"}
VOTE_PART = {"HTTP_X_FRAGMENT": "votes"}  # what the page's script sends with the song's vote form
# Session, user, the song's tally (locked), the visitor's vote, its write, the tally's
# write, the suggestions with the visitor's own in one: 7 (the old path took about 15).
# On PostgreSQL the four vote statements are one (data/vote_function.py): 4. With Redis
# the session is read from there: one fewer (test_vote_speed_sessions.py).
MOST_QUERIES_PER_VOTE = 7 if connection.vendor != "postgresql" else 4


@pytest.fixture
def ann(client, db):
    user = User.objects.create_user("ann", password="pw")
    client.force_login(user)
    return user


def _vote(client, song_id: int, value: str):
    with CaptureQueriesContext(connection) as queries:
        response = client.post(f"/song/{song_id}/vote", {"value": value}, **FRAGMENT)
    assert response.status_code == 200, response.content[:300]
    # Savepoints are the test's: it runs in a transaction, so the vote's is nested in it.
    sql = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    return response, len(sql), sql


def test_a_vote_and_its_refreshed_fragment_take_few_queries(client, ann, songs_runtime):
    store(7)
    services.vote_cast(user=users(1)[0], song_id=7, value=-1)  # the song's tally row exists
    for value, shown in (("up", "▲ 1"), ("up", "▲ 1"), ("down", "▼ 2"), ("none", "you have not voted")):
        response, count, sql = _vote(client, 7, value)
        assert shown in response.content.decode()
        assert count <= MOST_QUERIES_PER_VOTE, (value, "\n".join(sql))
    assert selectors.tally_mismatches() == []


def test_the_vote_part_alone_reads_no_suggestions(client, ann, songs_runtime):
    """The script's vote (X-Fragment: votes) gets the vote part back, marked as such: one
    query fewer than the whole fragment, and nothing of the rest of it."""
    store(7)
    services.vote_cast(user=users(1)[0], song_id=7, value=-1)  # the song's tally row exists
    for value, shown in (("up", "▲ 1"), ("down", "▼ 2"), ("none", "you have not voted")):
        with CaptureQueriesContext(connection) as queries:
            response = client.post("/song/7/vote", {"value": value}, **VOTE_PART)
        html = response.content.decode()
        assert response.status_code == 200 and response["X-Fragment"] == "votes"
        assert shown in html and 'data-part="votes"' in html and "Title suggestions" not in html
        sql = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
        assert len(sql) <= MOST_QUERIES_PER_VOTE - 1, "\n".join(sql)
        assert not any("titlesuggestion" in statement.lower() for statement in sql)
    gone = client.post("/song/12345/vote", {"value": "up"}, **VOTE_PART)  # a failed vote: the whole fragment
    assert gone.status_code == 410 and gone["X-Fragment"] == "me"


def _form_token(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_the_vote_part_repeats_the_checked_token_rather_than_masking_a_new_one(ann, songs_runtime):
    """With CSRF checked as in production: the vote part's form carries the masked token
    the vote sent (no new mask drawn), and the next vote with it passes; a vote that sent
    its token in the X-CSRFToken header, or unmasked, gets a newly masked one, which
    passes too. A wrong token is still refused."""
    store(7)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(ann)
    secret = get_random_string(32)
    browser.cookies[django_settings.CSRF_COOKIE_NAME] = secret
    sent = _mask_cipher_secret(secret)
    first = browser.post("/song/7/vote", {"value": "up", "csrfmiddlewaretoken": sent}, **VOTE_PART)
    assert first.status_code == 200 and _form_token(first.content.decode()) == sent
    again = browser.post("/song/7/vote", {"value": "down", "csrfmiddlewaretoken": _form_token(first.content.decode())},
                         **VOTE_PART)
    assert again.status_code == 200 and "▼ 1" in again.content.decode()
    for token_in in ({"HTTP_X_CSRFTOKEN": sent}, {"data": {"value": "none", "csrfmiddlewaretoken": secret}}):
        kwargs = {"data": {"value": "none"}, **token_in}
        answer = browser.post("/song/7/vote", **kwargs, **VOTE_PART)
        fresh = _form_token(answer.content.decode())
        assert answer.status_code == 200 and fresh != sent and len(fresh) == 64
        assert _unmask_cipher_token(fresh) == secret
    refused = browser.post("/song/7/vote", {"value": "up", "csrfmiddlewaretoken": _mask_cipher_secret(
        get_random_string(32))}, **VOTE_PART)
    assert refused.status_code == 403


def test_suggestions_on_the_song_add_at_most_two_queries(client, ann, songs_runtime, settings):
    settings.TITLE_SUGGESTION_MIN_VOTERS = 1
    store(7)
    bob, cy = users(2)
    made = services.title_suggestion_create(user=bob, song_id=7, text="Quiet hours")
    services.title_suggestion_vote(user=cy, suggestion_id=made.pk, value=1)
    services.title_suggestion_create(user=ann, song_id=7, text="Mine")
    services.vote_cast(user=bob, song_id=7, value=1)  # the song's tally row exists
    response, count, sql = _vote(client, 7, "up")
    html = response.content.decode()
    assert "Quiet hours" in html and "Listeners' title" in html and "(yours)" in html
    assert count <= MOST_QUERIES_PER_VOTE + 2, "\n".join(sql)


def _listed_the_long_way(song_id: int, user, limit: int) -> list[int]:
    """What the fragment lists, as it was read in two queries: the best `limit` visible
    suggestions, then the visitor's own if visible and not among them."""
    visible = list(TitleSuggestion.objects.filter(song_id=song_id, hidden=False).order_by("-score", "created", "pk"))
    listed = [s.pk for s in visible[:limit]]
    own = TitleSuggestion.objects.filter(song_id=song_id, user=user, hidden=False).first()
    if own is not None and own.pk not in listed:
        listed.append(own.pk)
    return listed


def test_the_suggestions_read_in_one_query_list_what_two_did(db):
    """The visitor's own suggestion ranked anywhere (first, among the best, just past
    them, last), hidden, or none, with ties on the score."""
    store(1)
    people = users(9)
    made = [services.title_suggestion_create(user=u, song_id=1, text=f"T{i}") for i, u in enumerate(people[:8])]
    rng = random.Random(5)
    for round_ in range(25):
        for suggestion in made:
            TitleSuggestion.objects.filter(pk=suggestion.pk).update(
                score=rng.choice([-1, 0, 1, 1, 2, 3]), hidden=rng.random() < 0.2)
        for visitor in people:  # the authors, and one who suggested nothing
            for limit in (1, 3, 5):
                with CaptureQueriesContext(connection) as queries:
                    listed = selectors.title_suggestions(song_id=1, user=visitor, limit=limit)
                assert [s.id for s in listed] == _listed_the_long_way(1, visitor, limit), (round_, limit)
                assert len(queries) <= 2  # the suggestions, the visitor's votes on them
        assert selectors.song_suggestions(song_id=1, user=people[0]).has_suggested  # hidden or not
        assert not selectors.song_suggestions(song_id=1, user=people[8]).has_suggested


def test_one_query_reads_the_suggestions_of_a_song_without_any(db):
    store(1)
    (ann,) = users(1)
    with CaptureQueriesContext(connection) as queries:
        found = selectors.song_suggestions(song_id=1, user=ann)
    assert found.listed == [] and not found.has_suggested and len(queries) == 1


def test_a_first_vote_on_a_song_and_a_vote_on_a_hidden_one(client, ann, songs_runtime):
    store(8, 9)
    services.songs_hide(song_ids=[9])
    _, count, sql = _vote(client, 8, "up")
    assert count <= MOST_QUERIES_PER_VOTE + 3, "\n".join(sql)  # the song is checked, its tally row made
    assert SongTally.objects.get(song_id=8).up == 1
    gone = client.post("/song/9/vote", {"value": "up"}, **FRAGMENT)
    assert gone.status_code == 410 and not Vote.objects.filter(song_id=9).exists()
    assert client.post("/song/12345/vote", {"value": "up"}, **FRAGMENT).status_code == 410


def _post(url: str, path: str, cookie: str, body: str) -> int:
    parts = urlsplit(url)
    connection_ = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection_.request("POST", path, body=body, headers={
            "Cookie": cookie, "X-Fragment": "me", "Content-Type": "application/x-www-form-urlencoded"})
        response = connection_.getresponse()
        response.read()
        return response.status
    finally:
        connection_.close()


def test_votes_are_answered_in_parallel_not_one_at_a_time(asgi_server, settings, monkeypatch):
    """Each vote is slowed down by 0.4 s of (simulated) database latency; 8 at once finish
    in about that, where Django's one thread for synchronous views took 8 times as long."""
    settings.SONG_VOTE_THREADS = 8
    real_vote_cast = services.vote_cast

    def slow_vote_cast(**kwargs):
        time.sleep(0.4)
        return real_vote_cast(**kwargs)

    monkeypatch.setattr(services, "vote_cast", slow_vote_cast)
    store(7)
    voters = users(8)
    cookies = []
    for voter in voters:
        client = Client()
        client.force_login(voter)
        token = get_random_string(32)
        cookies.append((f"{django_settings.SESSION_COOKIE_NAME}={client.cookies['sessionid'].value}; "
                        f"{django_settings.CSRF_COOKIE_NAME}={token}", token))
    statuses: list[int] = []
    barrier = threading.Barrier(len(voters))

    def vote(index: int) -> None:
        cookie, token = cookies[index]
        barrier.wait(10)
        statuses.append(_post(str(asgi_server), "/song/7/vote", cookie, f"value=up&csrfmiddlewaretoken={token}"))

    threads = [threading.Thread(target=vote, args=(i,)) for i in range(len(voters))]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    elapsed = time.monotonic() - started
    assert statuses == [200] * len(voters)
    assert elapsed < 0.4 * len(voters) / 2, elapsed
    assert SongTally.objects.get(song_id=7).up == len(voters) and selectors.tally_mismatches() == []


def test_the_same_on_postgresql():
    rerun_on_postgresql(__file__)
