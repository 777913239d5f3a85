"""Votes go through `ShortRequestHandler` (config/short_requests.py): Django's middleware
and view as for every request, without Django's ASGI handler's thread per request. The
application under test is the site's own (config/asgi.py), called as uvicorn calls it."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core import signals
from django.core.cache import cache
from django.test import Client
from django.utils.crypto import get_random_string

from billion_songs.web.config.asgi import application, django_application
from billion_songs.web.config.short_requests import is_listening, is_short
from billion_songs.web.songs.data import selectors
from billion_songs.web.songs.data.models import SongTally, Vote
from tests.support.asgi import call, scope
from tests.support.songs import store


def _voter(username: str) -> tuple[list[tuple[bytes, bytes]], str]:
    """Headers of a signed-in visitor's vote, as the page's script sends it, and the token."""
    client = Client()
    client.force_login(User.objects.create_user(username, password="pw"))
    token = get_random_string(32)
    cookie = f"{django_settings.SESSION_COOKIE_NAME}={client.cookies['sessionid'].value}; " \
             f"{django_settings.CSRF_COOKIE_NAME}={token}"
    return [(b"cookie", cookie.encode()), (b"x-fragment", b"votes"),
            (b"content-type", b"application/x-www-form-urlencoded")], token


def test_the_votes_and_only_they_are_short_requests():
    assert is_short(scope("POST", "/song/5/vote", []))
    assert is_short(scope("POST", "/suggestions/3/vote", []))
    assert not is_short(scope("GET", "/song/5/vote", []))
    assert not is_short(scope("POST", "/song/5/suggestions", []))  # a synchronous view
    assert not is_short(scope("POST", "/accounts/login", []))
    assert not is_short(scope("POST", "/no/such/path", []))


def _counting_thread_starts(monkeypatch) -> list[str]:
    started = []
    real_start = threading.Thread.start

    def counting_start(thread):
        started.append(thread.name)
        return real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", counting_start)
    return started


@pytest.mark.parametrize("vote_threads", [0, 2])
def test_votes_start_no_thread_per_request(transactional_db, songs_runtime, settings, monkeypatch, vote_threads):
    """Django's ASGI handler starts a thread for each request (its ThreadSensitiveContext);
    twenty votes here start at most the vote threads, once."""
    settings.SONG_VOTE_THREADS = vote_threads
    store(7)
    headers, token = _voter("ann")
    started = _counting_thread_starts(monkeypatch)

    async def twenty_votes():
        statuses = []
        for index in range(20):
            value = ("up", "down", "none")[index % 3]
            body = f"value={value}&csrfmiddlewaretoken={token}".encode()
            statuses.append((await call(application, "POST", "/song/7/vote", body=body, headers=headers))[0])
        return statuses

    assert asyncio.run(twenty_votes()) == [200] * 20
    assert len(started) <= max(vote_threads, 1), started
    assert SongTally.objects.get(song_id=7).revision == 20 and selectors.tally_mismatches() == []


def _comparable(headers: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    # The CSRF cookie's value is masked afresh on every answer, and the length differs.
    own = {b"date", b"content-length", b"set-cookie"}
    return {name.lower(): value for name, value in headers if name.lower() not in own}


def test_a_vote_answered_by_either_handler_carries_the_same_headers(transactional_db, songs_runtime):
    store(7)
    headers, token = _voter("ann")
    body = f"value=up&csrfmiddlewaretoken={token}".encode()
    short = asyncio.run(call(application, "POST", "/song/7/vote", body=body, headers=headers))
    full = asyncio.run(call(django_application, "POST", "/song/7/vote", body=body, headers=headers))
    assert short[0] == full[0] == 200
    assert _comparable(short[1]) == _comparable(full[1])
    for name in (b"content-security-policy", b"x-frame-options", b"cache-control", b"x-fragment"):
        assert name in _comparable(short[1]), name
    cookies = lambda found: sorted(v.split(b"=")[0] for n, v in found if n.lower() == b"set-cookie")  # noqa: E731
    assert cookies(short[1]) == cookies(full[1])
    assert short[2].count(b"<form") == 1 and b"Title suggestions" not in short[2]  # the vote part alone


def test_csrf_sign_in_and_bad_requests_are_refused_as_before(transactional_db, songs_runtime):
    store(7)
    headers, token = _voter("ann")

    async def refused():
        no_token = await call(application, "POST", "/song/7/vote", body=b"value=up", headers=headers)
        anonymous = await call(application, "POST", "/song/7/vote", body=f"value=up&csrfmiddlewaretoken={token}".encode(),
                                headers=[(b"x-fragment", b"votes"), (b"cookie", f"csrftoken={token}".encode()),
                                         (b"content-type", b"application/x-www-form-urlencoded")])
        too_big = await call(application, "POST", "/song/7/vote", headers=headers,
                              body=b"value=up&pad=" + b"x" * (django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1))
        not_a_vote = await call(application, "POST", "/song/7/vote", headers=headers,
                                 body=f"value=sideways&csrfmiddlewaretoken={token}".encode())
        return no_token, anonymous, too_big, not_a_vote

    no_token, anonymous, too_big, not_a_vote = asyncio.run(refused())
    assert no_token[0] == 403
    assert anonymous[0] == 401 and any(name.lower() == b"x-sign-in" for name, _ in anonymous[1])
    assert too_big[0] in (400, 413)
    assert not_a_vote[0] == 400 and b"That is not a vote." in not_a_vote[2]
    assert dict((n.lower(), v) for n, v in not_a_vote[1])[b"x-fragment"] == b"me"  # the whole fragment
    assert not Vote.objects.exists()


def test_the_song_views_are_listening_requests():
    for method, path in (("GET", "/song/5"), ("HEAD", "/song/5"), ("GET", "/api/songs/5"), ("GET", "/song/5.mid")):
        assert is_listening(scope(method, path, [])), (method, path)
    assert not is_listening(scope("POST", "/song/5", []))
    assert not is_listening(scope("GET", "/song/5/me", []))  # a synchronous view: Django's handler
    assert not is_listening(scope("GET", "/no/such/path", []))


def test_song_pages_start_no_thread_per_request(transactional_db, songs_runtime, monkeypatch):
    """Twenty song pages rendered afresh (not in the page cache) and twenty HEADs of new
    ids: Django's handler started a thread for each (the event loop waiting for each to
    run); here the renders share the event loop's few executor threads."""
    store(7)
    started = _counting_thread_starts(monkeypatch)

    async def pages():
        statuses = []
        for index in range(20):
            cache.clear()
            statuses.append((await call(application, "GET", "/song/7"))[0])
            statuses.append((await call(application, "HEAD", f"/song/{5000 + index}"))[0])
        return statuses

    assert asyncio.run(pages()) == [200] * 40
    assert len(started) <= 3, started
    started.clear()
    cache.clear()
    asyncio.run(call(django_application, "GET", "/song/7"))
    assert started, "Django's own handler starts a thread per request (what this test guards against)"


def test_a_visitor_who_leaves_a_song_being_written_is_let_go(transactional_db, songs_runtime, fake):
    """The visitor of a new id leaves while its song is streamed: the view is cancelled
    (the visitor's place given back) and the request ends, with request_finished sent
    once, as through Django's handler."""
    fake.line_delay = 0.2
    finished = []

    def on_finished(**kwargs):
        finished.append(kwargs.get("sender"))

    signals.request_finished.connect(on_finished)
    chunks: list[bytes] = []

    async def visit_and_leave():
        first_chunk = asyncio.Event()

        async def receive():
            if not hasattr(receive, "sent"):
                receive.sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await first_chunk.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.body" and message.get("body"):
                chunks.append(message["body"])
                first_chunk.set()

        started = time.monotonic()
        await asyncio.wait_for(application(scope("GET", "/song/4242", [(b"x-forwarded-for", b"127.0.0.9")]),
                                           receive, send), timeout=10)
        return time.monotonic() - started

    try:
        took = asyncio.run(visit_and_leave())
    finally:
        signals.request_finished.disconnect(on_finished)
    assert chunks and b"<html" in chunks[0].lower()
    assert took < 2.0, took  # not the whole song: about 20 lines at 0.2 s
    assert len(finished) == 1
    assert songs_runtime.flights.clients.waiting("127.0.0.1") == 0
