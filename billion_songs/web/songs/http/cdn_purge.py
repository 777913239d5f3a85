"""Telling a CDN in front of the site to drop a song's pages when a moderator hides the
song or shows it again (page_cache.py calls `purge` once the change commits).

SONG_CDN_PURGE says how; empty (the default) does nothing:
- a URL template, with `{url}` (the page's absolute URL; needs BILLION_SONGS_SITE_URL),
  `{path}` (/song/<id>, /api/songs/<id>) or `{id}`: one request per page, with the method
  SONG_CDN_PURGE_METHOD (PURGE by default, as Varnish and Fastly take it), e.g.
  `http://127.0.0.1:6081{path}`;
- or the dotted path of a callable taking `paths` and `urls` (lists of str), for a CDN
  with an API of its own.
Requests go from a background thread, after the page cache's own second purge (see
page_cache.py): hiding never waits on the CDN, and a CDN that fails
is logged. Shared caches revalidate after SONG_SHARED_MAX_AGE in any case.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.request
from collections.abc import Iterable

from django.conf import settings
from django.urls import reverse
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)

TIMEOUT = 10  # seconds per purge request


def song_paths(song_id: int) -> list[str]:
    """Every public URL path with a song's page, its JSON or its tune's files."""
    names = ("songs:detail", "songs:api_detail", "songs:midi", "songs:kar", "songs:abc")
    return [reverse(name, args=[song_id]) for name in names]


def purge(*, song_ids: Iterable[int], delay: float = 0.0) -> threading.Thread | None:
    """Ask the CDN to drop these songs' pages, `delay` seconds from now; returns the thread
    doing it (None: no CDN configured). The hook is read now."""
    hook = settings.SONG_CDN_PURGE
    if not hook:
        return None
    song_ids = list(song_ids)
    thread = threading.Thread(target=_purge, args=(hook, song_ids, delay), name="songs-cdn-purge", daemon=True)
    thread.start()
    return thread


def _purge(hook: str, song_ids: list[int], delay: float) -> None:
    time.sleep(delay)
    pages = [(song_id, path) for song_id in song_ids for path in song_paths(song_id)]
    urls = [settings.SITE_URL + path for _, path in pages] if settings.SITE_URL else []
    if "://" not in hook:
        try:
            import_string(hook)(paths=[path for _, path in pages], urls=urls)
        except Exception:  # noqa: BLE001  (a CDN's failure must not reach the moderator)
            log.exception("CDN purge hook %s failed for songs %s", hook, song_ids)
        return
    for song_id, path in pages:
        target = hook.format(url=settings.SITE_URL + path, path=path, id=song_id)
        request = urllib.request.Request(target, method=settings.SONG_CDN_PURGE_METHOD)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310  (a configured URL)
                response.read()
        except Exception as error:  # noqa: BLE001
            log.warning("CDN purge %s %s failed: %s", settings.SONG_CDN_PURGE_METHOD, target, error)
