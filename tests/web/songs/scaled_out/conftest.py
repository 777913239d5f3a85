"""The scaled-out song machinery (Redis pool, flights, vote counts), tested in-process against a real, private Redis."""

from __future__ import annotations

import shutil

import pytest

from billion_songs.web.songs.data import redis_clients
from tests.support.redis_server import RedisServer


@pytest.fixture(scope="session")
def private_redis(tmp_path_factory):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.kill()


def _use_redis(settings, url: str) -> None:
    settings.REDIS_URL = url
    redis_clients._clients.clear()
    redis_clients._async_clients.clear()
    redis_clients._async_bytes_clients.clear()
    redis_clients.breaker = redis_clients.Breaker()


@pytest.fixture
def redis_url(settings, private_redis):
    """settings.REDIS_URL pointed at the private Redis, emptied before and after."""
    from billion_songs.web.config.celery import app

    _use_redis(settings, private_redis.url)
    previous_broker, app.conf.broker_url = app.conf.broker_url, private_redis.url
    client = private_redis.client()
    client.flushdb()
    yield private_redis.url
    client.flushdb()
    app.conf.broker_url = previous_broker
    _use_redis(settings, "")


@pytest.fixture
def unreachable_redis(settings):
    """settings.REDIS_URL pointed at a port where nothing listens."""
    from tests.support.waiting import free_port

    _use_redis(settings, f"redis://127.0.0.1:{free_port()}/0")
    yield
    _use_redis(settings, "")
