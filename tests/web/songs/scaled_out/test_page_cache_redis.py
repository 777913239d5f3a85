"""The page cache on Redis (the scaled-out shape's Django cache), read from the event loop
without blocking it (`apage_cached`, redis.asyncio): the same pages the synchronous cache
wrote, misses and an unreachable Redis as misses."""

from __future__ import annotations

import asyncio

import pytest
import redis.utils

from billion_songs.web.songs.data import redis_clients
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


def test_a_burst_of_reads_shares_a_few_connections(redis_page_cache, private_redis):
    """A flood's first requests each read the page cache at once: they share at most
    PAGE_CACHE_CONNECTIONS connections instead of opening one each on the event loop."""
    page = Page(body=b"<p>song 7</p>", content_type="text/html; charset=utf-8", etag='"ghi"')
    page_cache.page_cache(kind="html", song_id=7, site_url="https://songs.example", page=page)
    watcher = private_redis.client()

    async def burst():
        # By id: a connection of an earlier test that closes meanwhile is not one fewer opened.
        before = {client["id"] for client in watcher.client_list()}
        pages = await asyncio.gather(*(page_cache.apage_cached(kind="html", song_id=7, site_url="https://songs.example")
                                       for _ in range(40)))
        return pages, len([client for client in watcher.client_list() if client["id"] not in before])

    pages, opened = asyncio.run(burst())
    assert pages == [page] * 40
    assert 1 <= opened <= redis_clients.PAGE_CACHE_CONNECTIONS


def test_new_connections_do_not_look_up_the_installed_packages(redis_page_cache, monkeypatch):
    """redis-py would read its own version from the installed packages' metadata for every
    connection it opens (a scan of site-packages, on the event loop): it is given."""
    looked_up = []
    monkeypatch.setattr(redis.utils.metadata, "version", lambda name: looked_up.append(name) or "0")

    async def on_the_loop():
        await asyncio.gather(*(page_cache.apage_cached(kind="html", song_id=n, site_url="https://songs.example")
                               for n in range(20)))
        await redis_clients.async_client().ping()

    asyncio.run(on_the_loop())
    redis_clients.client().ping()
    assert looked_up == []
