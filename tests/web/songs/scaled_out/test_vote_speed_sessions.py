"""With Redis (the scaled-out shape), a vote reads its session from the shared cache, not
from the database (Django's cached_db engine), and signing out still ends the session
everywhere: the database row and the cached copy both go."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from billion_songs.web.songs.data import services
from billion_songs.web.songs.data.models import SongTally
from tests.support.songs import store, users
from tests.web.songs.on_postgresql import rerun_on_postgresql

ROOT = Path(__file__).resolve().parents[4]
FRAGMENT = {"HTTP_X_FRAGMENT": "me"}
CACHED_DB = "django.contrib.sessions.backends.cached_db"
# The user, the song's tally (locked), the visitor's vote, its write, the tally's write,
# the suggestions: no session row.
MOST_QUERIES_PER_VOTE = 6


def _engine_with(redis_url: str) -> str:
    env = {**os.environ, "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "billion_songs.web.config.settings.test"}
    return subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.SESSION_ENGINE)"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60).stdout.strip()


def test_sessions_are_read_through_the_cache_only_when_it_is_shared():
    assert _engine_with("redis://127.0.0.1:6379/0") == CACHED_DB
    # Each process's local-memory cache would keep a session another process deleted.
    assert _engine_with("") == "django.contrib.sessions.backends.db"


@pytest.fixture
def shared_sessions(settings, redis_url):
    """The settings of the scaled-out shape: the Django cache in the private Redis, and
    sessions read through it."""
    settings.CACHES = {"default": {
        "BACKEND": "django_redis.cache.RedisCache", "LOCATION": redis_url,
        "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2}}}
    settings.SESSION_ENGINE = CACHED_DB
    yield


def _vote(client: Client, song_id: int, value: str, **extra):
    with CaptureQueriesContext(connection) as queries:
        response = client.post(f"/song/{song_id}/vote", {"value": value}, **FRAGMENT, **extra)
    sql = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    return response, sql


def test_a_vote_reads_its_session_from_redis_not_the_database(shared_sessions, songs_runtime, db):
    store(7)
    ann, bob = users(2)
    services.vote_cast(user=bob, song_id=7, value=1)  # the song's tally row exists
    client = Client()
    client.force_login(ann)  # the session row, and its copy in Redis
    for value, shown in (("up", "▲ 2"), ("down", "▼ 1"), ("none", "you have not voted")):
        response, sql = _vote(client, 7, value)
        assert response.status_code == 200 and shown in response.content.decode()
        assert not [q for q in sql if "django_session" in q], sql
        assert len(sql) <= MOST_QUERIES_PER_VOTE, "\n".join(sql)


def test_a_session_missing_from_redis_is_read_from_the_database(shared_sessions, private_redis, songs_runtime, db):
    store(7)
    (ann,) = users(1)
    client = Client()
    client.force_login(ann)
    private_redis.client().flushdb()  # Redis restarted empty: the sign-in holds
    response, sql = _vote(client, 7, "up")
    assert response.status_code == 200 and SongTally.objects.get(song_id=7).up == 1
    assert [q for q in sql if "django_session" in q]
    response, sql = _vote(client, 7, "down")  # and the copy is back in Redis
    assert response.status_code == 200 and not [q for q in sql if "django_session" in q]


def test_signing_out_ends_the_cached_session_too(shared_sessions, private_redis, songs_runtime, db):
    store(7)
    (ann,) = users(1)
    client = Client()
    client.force_login(ann)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert _vote(client, 7, "up")[0].status_code == 200
    assert client.post("/accounts/logout").status_code in (200, 302)
    assert not Session.objects.filter(session_key=cookie).exists()
    assert not [k for k in private_redis.client().keys("*") if cookie.encode() in k]
    replay = Client()  # the old cookie, sent again
    replay.cookies[django_settings.SESSION_COOKIE_NAME] = cookie
    response, _ = _vote(replay, 7, "down")
    assert response.status_code == 401
    assert SongTally.objects.get(song_id=7).up == 1


def test_the_same_on_postgresql():
    rerun_on_postgresql(__file__)
