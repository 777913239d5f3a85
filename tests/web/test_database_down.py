"""PostgreSQL goes away under a running `billion-songs serve`, and comes back.

The server reaches PostgreSQL through a TCP proxy (tests/support/tcp_proxy.py); stopping the
proxy refuses new connections and breaks the open ones, as a database restart would.
While it is down, pages that need the database answer 503 with a short page (no
traceback, the server keeps running); once it is back, the same pages work again without
a restart, and a song first asked for during the outage is written and stored."""

from __future__ import annotations

import json
import os
import re
import time
from urllib.parse import urlencode, urlsplit

import pytest

from billion_songs.web.config.middleware import DatabaseUnavailableMiddleware, database_unreachable
from billion_songs.web.songs.data.fields import to_stored
from tests.support.processes import FAKE_GENERATOR, Served, site_environment
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow

psycopg = pytest.importorskip("psycopg")

# The server to test against; trust authentication, as in tests/web/songs/test_votes_concurrent.py.
POSTGRES_URL = os.environ.get("BILLION_SONGS_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
POSTGRES = urlsplit(POSTGRES_URL)
MESSAGE = DatabaseUnavailableMiddleware.message
NEW_SONG = 424_242_424_242  # asked for while the database is down: never stored before
NEW_API_SONG = 434_343_434_343


def _postgres():
    return {"host": POSTGRES.hostname or "127.0.0.1", "port": POSTGRES.port or 5432,
            "user": POSTGRES.username or "postgres", "password": POSTGRES.password}


def _admin_connection():
    return psycopg.connect(**_postgres(), dbname="postgres", autocommit=True, connect_timeout=3)


@pytest.fixture
def database():
    """A database of this test's own, dropped afterwards; the server migrates it."""
    try:
        admin = _admin_connection()
    except psycopg.OperationalError as error:
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL} (set BILLION_SONGS_TEST_POSTGRES_URL): {error}")
    name = f"bs_dbdown_{os.getpid()}"
    with admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    yield name
    with _admin_connection() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def proxy():
    with TcpProxy((_postgres()["host"], _postgres()["port"])) as started:
        yield started


@pytest.fixture
def server(database, proxy, tmp_path):
    user = POSTGRES.netloc.rpartition("@")[0] or "postgres"  # user[:password], as given
    env = site_environment(DATABASE_URL=f"postgres://{user}@127.0.0.1:{proxy.port}/{database}",
                           BILLION_SONGS_GENERATOR_FACTORY=FAKE_GENERATOR, BILLION_SONGS_POOL_TARGET="20",
                           BILLION_SONGS_CHART_CACHE_SECONDS="0")  # /top reads the database every time
    served = Served.start(env, tmp_path / "serve.log", "--data-dir", str(tmp_path / "data"))
    try:
        # Migrations on a new database and a slow shared machine: a generous deadline.
        served.wait_until_healthy(timeout=120)
        yield served
    finally:
        served.stop()  # before the database is dropped (fixtures end in reverse order)


def _until(answer, timeout: float = 30):
    """Call `answer()` until it returns a 200 response; that response."""
    deadline = time.monotonic() + timeout
    while True:
        result = answer()
        if result[0] == 200 or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def test_the_site_answers_503_while_postgresql_is_down_and_recovers_when_it_returns(server, proxy, database):
    assert server.get("/healthz")[2] == b"ok"
    status, _, body = server.get("/song/12345")  # written now, streamed to its end
    assert status == 200 and b"Traceback" not in body, server.process.output()
    assert server.get("/song/12345")[0] == 200  # the stored page, now in the page cache
    assert server.get("/top")[0] == 200

    # The sign-in form, and its CSRF cookie and token, for the POSTs below.
    status, headers, body = server.get("/accounts/login")
    assert status == 200
    csrf_cookie = re.search(r"csrftoken=([^;]+)", headers["set-cookie"]).group(1)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()

    def sign_in():
        form = urlencode({"csrfmiddlewaretoken": token, "username": "nobody", "password": "not-the-password"})
        return server.request("POST", "/accounts/login", body=form, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={csrf_cookie}"})

    requests = {
        "/top": lambda: server.get("/top"),
        f"/song/{NEW_SONG}": lambda: server.get(f"/song/{NEW_SONG}"),
        f"/api/songs/{NEW_API_SONG}": lambda: server.get(f"/api/songs/{NEW_API_SONG}"),
        "POST /accounts/login": sign_in,
    }

    proxy.stop()  # PostgreSQL is out of reach, and the server's open connections break
    for name, ask in requests.items():
        status, headers, body = ask()
        text = body.decode()
        assert status == 503, f"{name}: {status}\n{text[:2000]}\n{server.process.output()}"
        assert headers["retry-after"] == "10" and headers["cache-control"] == "no-store", name
        for leak in ("Traceback", "OperationalError", "InterfaceError", "psycopg", "connection refused"):
            assert leak.lower() not in text.lower(), f"{name}: {leak} in {text}"
        if name.startswith("/api/"):
            assert headers["content-type"] == "application/json" and json.loads(text) == {"error": MESSAGE}
        else:
            assert headers["content-type"].startswith("text/html") and MESSAGE in text, f"{name}: {text}"
            assert "<h1>Back in a moment</h1>" in text
    assert server.get("/song/12345")[0] == 200  # a cached page needs no database
    assert server.process.alive(), server.process.output()
    log = server.process.output()
    assert log.count("Database unreachable") == 1, log  # one warning, not one per request
    assert "Service Unavailable:" not in log, log  # nor django.request's line per 503

    proxy.start()  # back, on the same port: no restart of the server
    for name, ask in requests.items():
        status, _, body = _until(ask)
        assert status == 200, f"{name} after the database came back: {status}\n{body[:2000]!r}\n{server.process.output()}"
        if name == f"/song/{NEW_SONG}":
            assert b'<h1 class="title">' in body and b"could not be written" not in body, body
        if name.startswith("/api/"):
            assert json.loads(body)["id"] == str(NEW_API_SONG)
    assert b"Please enter a correct username and password" in sign_in()[2]  # the form, with its error

    # The songs first asked for during the outage are stored now.
    with psycopg.connect(**_postgres(), dbname=database) as db:
        rows = db.execute("SELECT id FROM songs_song WHERE id = ANY(%s)",
                          [[to_stored(NEW_SONG), to_stored(NEW_API_SONG)]]).fetchall()
    assert len(rows) == 2
    assert server.process.alive()


def _django_error(connection, sql: str) -> Exception:
    """The exception Django raises for `sql` on `connection` (one of its DatabaseWrappers)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    except Exception as error:
        return error
    raise AssertionError(f"{sql!r} did not fail")


def test_only_a_lost_connection_counts_as_the_database_being_unreachable(database, proxy, tmp_path, django_db_blocker):
    """The errors Django really raises, told apart: a connection that breaks or cannot be
    made (503) from a query that fails on a working one, or a locked SQLite file (500)."""
    import sqlite3

    from django.db.utils import ConnectionHandler

    handler = ConnectionHandler({  # connections of this test's own, not the test settings'
        "default": {"ENGINE": "django.db.backends.postgresql", "NAME": database, "HOST": "127.0.0.1",
                     "PORT": str(proxy.port), "USER": _postgres()["user"], "PASSWORD": _postgres()["password"] or ""},
        "sqlite": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "locked.sqlite3"),
                   "OPTIONS": {"timeout": 0}},
    })
    with django_db_blocker.unblock():
        try:
            postgres = handler["default"]
            # A query cancelled by the server: a working connection, a failed query.
            assert not database_unreachable(_django_error(postgres, "SET statement_timeout = 1; SELECT pg_sleep(1)"))
            proxy.stop()
            assert database_unreachable(_django_error(postgres, "SELECT 1"))  # broken mid-session
            postgres.close()
            assert database_unreachable(_django_error(postgres, "SELECT 1"))  # refused
            proxy.start()

            sqlite = handler["sqlite"]
            with sqlite.cursor() as cursor:
                cursor.execute("CREATE TABLE t (x int)")
            holder = sqlite3.connect(tmp_path / "locked.sqlite3")
            holder.execute("BEGIN EXCLUSIVE")
            locked = _django_error(sqlite, "INSERT INTO t VALUES (1)")
            holder.close()
            assert "database is locked" in str(locked) and not database_unreachable(locked)
        finally:
            handler.close_all()
