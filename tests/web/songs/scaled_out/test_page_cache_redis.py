"""The page cache on Redis (the scaled-out shape's Django cache), read from the event loop
without blocking it (`apage_cached`, redis.asyncio): the same pages the synchronous cache
wrote, misses and an unreachable Redis as misses."""

from __future__ import annotations

import asyncio

import pytest

from billion_songs.web.songs.http import page_cache
from billion_songs.web.songs.http.pages import Page
from tests.support.waiting import free_port


def _redis_cache(url: str) -> dict:
    return {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": url,
                        "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2}}}


@pytest.fixture
def redis_page_cache(settings, redis_url):
    settings.CACHES = _redis_cache(redis_url)  # page_cache's shared cache object is rebuilt


def _read(**where) -> Page | None:
    return asyncio.run(page_cache.apage_cached(**where))


def test_pages_written_synchronously_are_read_from_the_loop(redis_page_cache, private_redis):
    page = Page(body=b"<p>song 5</p>", content_type="text/html; charset=utf-8", etag='"abc"')
    other_host = Page(body=b"<p>song 5, elsewhere</p>", content_type="text/html; charset=utf-8", etag='"def"')
    page_cache.page_cache(kind="html", song_id=5, site_url="https://songs.example", page=page)
    page_cache.page_cache(kind="html", song_id=5, site_url="https://other.example", page=other_host)
    assert private_redis.client().keys("*songs:html:*")  # in Redis, not in this process

    assert _read(kind="html", song_id=5, site_url="https://songs.example") == page
    assert _read(kind="html", song_id=5, site_url="https://other.example") == other_host
    assert _read(kind="json", song_id=5, site_url="https://songs.example") is None
    assert _read(kind="html", song_id=6, site_url="https://songs.example") is None
    page_cache.page_purge(song_id=5)
    assert _read(kind="html", song_id=5, site_url="https://songs.example") is None


def test_an_unreachable_redis_is_a_miss(settings):
    settings.CACHES = _redis_cache(f"redis://127.0.0.1:{free_port()}/0")
    assert _read(kind="html", song_id=5, site_url="https://songs.example") is None
