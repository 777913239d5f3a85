"""The Django cache's Redis client is built once per process (config/redis_clients.py),
not once per request context: every cache object, from any thread, uses the same client,
and it works (a session is read through it)."""

import threading

import pytest
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.test import override_settings

from billion_songs.web.config import redis_clients


@pytest.fixture
def redis_cache(private_redis):
    url = private_redis.url
    config = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": url,
                          "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2}}}
    with override_settings(CACHES=config):
        yield


def _client_in_a_new_cache_object():
    cache: BaseCache = caches.create_connection("default")  # what each request context gets
    return cache.client.get_client(write=False), cache


def test_cache_objects_share_one_client_across_threads(redis_cache):
    from django.conf import settings

    assert settings.DJANGO_REDIS_CONNECTION_FACTORY == "billion_songs.web.config.redis_clients.SharedClientFactory"
    first, cache = _client_in_a_new_cache_object()
    found = []
    thread = threading.Thread(target=lambda: found.append(_client_in_a_new_cache_object()[0]))
    thread.start()
    thread.join()
    assert found == [first]  # fails with django-redis's own factory: a new client per cache object
    cache.set("bs:test:shared", 42)
    assert _client_in_a_new_cache_object()[1].get("bs:test:shared") == 42


def test_different_servers_get_different_clients(redis_cache, private_redis):
    first, _ = _client_in_a_new_cache_object()
    other = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}
    with override_settings(CACHES=other):
        second, _ = _client_in_a_new_cache_object()
    assert second is not first
    assert len({id(c) for c in redis_clients.SharedClientFactory._clients.values()}) >= 2
