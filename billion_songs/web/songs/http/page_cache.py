"""The page cache: a stored song's rendered pages (HTML and JSON), kept in the Django
cache and answered with a strong ETag and public cache headers, and purged when a
moderator hides the song or shows it again (here, and in a CDN: cdn_purge.py).

Public caches keep a page minutes, not months (SONG_BROWSER_MAX_AGE, SONG_SHARED_MAX_AGE):
a hidden song must leave them soon, and asking again costs them a conditional request
answered 304 from the page cache (If-None-Match, weak ETags included)."""

from __future__ import annotations

import threading

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import BaseCache
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_cache_control
from django.utils.http import parse_etags
from django_redis.cache import RedisCache

from billion_songs.web.songs.data import reading, redis_clients, selectors
from billion_songs.web.songs.data.events import songs_visibility_changed
from billion_songs.web.songs.data.models import Song
from billion_songs.web.songs.http import cdn_purge
from billion_songs.web.songs.http.offload import rendered
from billion_songs.web.songs.http.pages import RENDERERS, Page


def site_url(request: HttpRequest) -> str:
    return settings.SITE_URL or f"{request.scheme}://{request.get_host()}"


def public(response: HttpResponse) -> HttpResponse:
    patch_cache_control(response, public=True, max_age=settings.SONG_BROWSER_MAX_AGE,
                        s_maxage=settings.SONG_SHARED_MAX_AGE)
    return response


def never_cache(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


async def stored_page(request: HttpRequest, song_id: int, kind: str) -> Page | None:
    """The rendered page of a stored song (from the page cache, else rendered and cached),
    or None for an id never generated."""
    url = site_url(request)
    page = await apage_cached(kind=kind, song_id=song_id, site_url=url)
    if page is None:
        song = await reading.read(selectors.song_get, song_id=song_id)  # no connection kept while a new song is written
        if song is None:
            return None
        page = await rendered(render_and_cache, song, kind, url)  # not on the loop (offload.py)
    return page


def render_and_cache(song: Song, kind: str, site_url: str) -> Page:
    page = RENDERERS[kind](song=song, site_url=site_url)
    page_cache(kind=kind, song_id=song.id, site_url=site_url, page=page)
    return page


def page_response(request: HttpRequest, page: Page) -> HttpResponse:
    """The page with its ETag and public cache headers; 304 when the browser has it."""
    if page.status != 200:  # a removed song: kept briefly, since a moderator can undo it
        response = HttpResponse(page.body, content_type=page.content_type, status=page.status)
        patch_cache_control(response, public=True, max_age=settings.SONG_REMOVED_MAX_AGE)
        return response
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match and etag_matches(if_none_match, page.etag):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(page.body, content_type=page.content_type)
    response["ETag"] = page.etag
    return public(response)


def etag_matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match compares weakly (RFC 9110, 13.1.2): W/"x" matches "x". A proxy that
    compresses the page (nginx's gzip) sends our ETag on weakened, and browsers send that
    back."""
    if if_none_match.strip() == "*":
        return True
    ours = etag.removeprefix("W/")
    return any(tag.removeprefix("W/") == ours for tag in parse_etags(if_none_match))


# One cache entry per song and kind, holding {site URL: Page}: the site URL (the host,
# when SITE_URL is unset) keeps pages for one host from reaching another, and one key per
# song lets a hidden song's pages be purged for every host at once. The version in the
# key lets a template change drop them all.
_HOSTS_PER_ENTRY = 4  # more hosts than this for one song (forged Host headers): start over


def _key(kind: str, song_id: int) -> str:
    return f"songs:{kind}:{settings.SONG_PAGE_CACHE_VERSION}:{song_id}"


_shared: BaseCache | None = None


def _cache() -> BaseCache:
    """The default cache, one object per process. Django builds its cache objects per
    thread and, under ASGI, per request context: on the ASGI front (fast_path.py) that
    was a django-redis cache built for every request (its client, and its serializer and
    compressor classes imported by name), which cost more than the page's GET. Both
    backends are safe to share: django-redis's client takes a pooled connection per
    command, and the local-memory cache locks its entries (and keeps them per name, so
    every object sees the same ones)."""
    global _shared
    if _shared is None:
        _shared = caches.create_connection(DEFAULT_CACHE_ALIAS)
    return _shared


@receiver(setting_changed, dispatch_uid="songs-page-cache-settings")
def _cache_settings_changed(setting: str, **kwargs) -> None:
    global _shared
    if setting == "CACHES":  # tests
        _shared = None


def page_cached(*, kind: str, song_id: int, site_url: str) -> Page | None:
    entry = _cache().get(_key(kind, song_id))
    return entry.get(site_url) if entry else None


async def apage_cached(*, kind: str, song_id: int, site_url: str) -> Page | None:
    """`page_cached` for the event loop. The local-memory cache does no I/O; a Redis GET is
    awaited (redis.asyncio) instead of holding the loop: a synchronous one waited for
    Redis to be scheduled, which on a busy machine held every other request of the
    process. An error is a miss, as for the synchronous cache (IGNORE_EXCEPTIONS)."""
    backend = _cache()
    if not isinstance(backend, RedisCache):
        return page_cached(kind=kind, song_id=song_id, site_url=site_url)
    try:
        redis = redis_clients.async_bytes_client(settings.CACHES[DEFAULT_CACHE_ALIAS]["LOCATION"])
        raw = await redis.get(backend.client.make_key(_key(kind, song_id)))
    except redis_clients.Error:
        return None
    entry = backend.client.decode(raw) if raw is not None else None
    return entry.get(site_url) if entry else None


def page_cache(*, kind: str, song_id: int, site_url: str, page: Page) -> None:
    key = _key(kind, song_id)
    entry = _cache().get(key) or {}
    if site_url not in entry and len(entry) >= _HOSTS_PER_ENTRY:
        entry = {}
    entry[site_url] = page
    _cache().set(key, entry, timeout=None)  # a stored song never changes; hiding it purges


def page_purge(*, song_id: int) -> None:
    """Drop a song's rendered pages (it was hidden or shown again)."""
    _cache().delete_many([_key(kind, song_id) for kind in RENDERERS])


@receiver(songs_visibility_changed, dispatch_uid="songs-page-cache-visibility")
def _visibility_changed(sender, song_ids: list[int], **kwargs) -> None:
    """Purge now, and once more two seconds later, in case a request that read the song
    just before the change was still rendering it; then the CDN, which might otherwise
    have fetched that last stale page."""
    for song_id in song_ids:
        page_purge(song_id=song_id)
    timer = threading.Timer(2.0, lambda: [page_purge(song_id=song_id) for song_id in song_ids])
    timer.daemon = True
    timer.start()
    cdn_purge.purge(song_ids=song_ids, delay=2.5)  # after that second purge
