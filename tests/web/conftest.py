"""Web-layer test setup: Django's test settings (a real SQLite file in WAL mode), a fake
generator for the model, and a real ASGI server (uvicorn, as `billion-songs serve` runs
it) for the tests that need real HTTP: streaming, concurrency, the browser."""

from __future__ import annotations

import os
import socket
import threading
import time

import django
import pytest

from tests.support.waiting import wait_for

# Set up here rather than in pyproject: the core tests do not need Django. When pytest
# runs the whole tree, this conftest loads during collection, after pytest-django looked
# for settings, so Django is set up by hand before the test modules import models.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billion_songs.web.config.settings.test")
django.setup()

from billion_songs.core.fake import FakeLyricsGenerator


@pytest.fixture(autouse=True, scope="session")
def _database_only_for_tests_that_ask(django_db_blocker):
    # What pytest-django does when it finds the settings itself.
    django_db_blocker.block()


@pytest.fixture(autouse=True)
def _fresh_page_cache(settings):
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def fake() -> FakeLyricsGenerator:
    return FakeLyricsGenerator()


@pytest.fixture
def songs_runtime(fake):
    """The process's song runtime, built around `fake`, without a background filler
    unless the test starts one; stopped and removed afterwards."""
    from billion_songs.web.songs.runtime import web as runtime

    built = runtime.Runtime.build(fake)
    runtime.install(built)
    yield built
    built.stop()
    _wait_for_flights(built)
    runtime.install(None)


def _wait_for_flights(built, timeout: float = 10.0) -> None:
    # A generation thread still writing would touch the database after the test's flush.
    deadline = time.monotonic() + timeout
    while built.flights.in_flight and time.monotonic() < deadline:
        time.sleep(0.01)


class LiveServer:
    def __init__(self, url: str):
        self.url = url

    def __str__(self) -> str:
        return self.url


@pytest.fixture
def asgi_server(songs_runtime, transactional_db):
    """The Django ASGI application under uvicorn in a thread, on a free loopback port.
    Data must be committed to be seen by it: tests using it get a transactional DB."""
    import uvicorn

    from billion_songs.web.config.asgi import application

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(application, lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=10, what="uvicorn to start", interval=0.01)
    yield LiveServer(f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(10)
    sock.close()
    _wait_for_flights(songs_runtime)
