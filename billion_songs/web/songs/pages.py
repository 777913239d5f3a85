"""Turning songs into bytes: the stored song page (rendered once, cached with its ETag),
the page that streams a song while it is written, and the JSON document.

A stored song's page is the same bytes for every visitor: no user, session or CSRF token
goes into it, which is what lets browsers and CDNs cache it publicly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import escape

from billion_songs.core.interface import Restart, TextDelta
from billion_songs.web.songs.models import Song
from billion_songs.web.songs.source import Broken, Flight, Stored


@dataclass(frozen=True)
class Page:
    body: bytes
    etag: str  # quoted, strong: a hash of the body
    content_type: str


def song_context(*, song: Song, site_url: str) -> dict:
    permalink = site_url + reverse("songs:detail", args=[song.id])
    first_lines = song.first_lines
    return {
        "song": song,
        "stanzas": song.stanzas,
        "permalink": permalink,
        "description": " / ".join(first_lines) if song.ok else "This song could not be written.",
        "page_title": song.title if song.ok and song.title else f"Song #{song.id}",
    }


def _page(body: str, content_type: str) -> Page:
    data = body.encode()
    return Page(body=data, etag=f'"{hashlib.blake2b(data, digest_size=12).hexdigest()}"', content_type=content_type)


def song_page_render(*, song: Song, site_url: str) -> Page:
    return _page(render_to_string("songs/song.html", song_context(song=song, site_url=site_url)),
                 "text/html; charset=utf-8")


def song_json_render(*, song: Song, site_url: str) -> Page:
    return _page(json.dumps(song_document(song=song, site_url=site_url), ensure_ascii=False),
                 "application/json")


def song_document(*, song: Song, site_url: str) -> dict:
    # The id is a string: JavaScript numbers lose integers above 2**53, and most song ids
    # are above it. (Twitter's id_str, for the same reason.)
    document = {
        "id": str(song.id),
        "title": song.title,
        "lyrics": song.lyrics,
        "model_version": song.model_version,
        "ok": song.ok,
        "url": site_url + reverse("songs:detail", args=[song.id]),
        "created": song.created.isoformat(),
    }
    if not song.ok:
        document["failure_reason"] = song.failure_reason
    return document


# The cache key carries the site URL (the host, when SITE_URL is unset) and a version, so
# pages for one host never reach another and a template change can drop them all.
def _key(kind: str, song_id: int, site_url: str) -> str:
    return f"songs:{kind}:{settings.SONG_PAGE_CACHE_VERSION}:{site_url}:{song_id}"


def page_cached(*, kind: str, song_id: int, site_url: str) -> Page | None:
    # A synchronous call from async views: the default local-memory cache does no I/O,
    # and a Redis GET on the same network is far cheaper than a hop to a thread.
    return cache.get(_key(kind, song_id, site_url))


def page_cache(*, kind: str, song_id: int, site_url: str, page: Page) -> None:
    cache.set(_key(kind, song_id, site_url), page, timeout=None)  # a stored song never changes


RENDERERS = {"html": song_page_render, "json": song_json_render}


async def writing_stream(*, flight: Flight, song_id: int, site_url: str) -> AsyncIterator[bytes]:
    """The page of a song being written: the page shell at once, then the raw text of
    each attempt as the model writes it (escaped), then the finished song in place of
    the draft. Plain progressive HTML: it streams without JavaScript, and CSS hides a
    draft that a quality guard threw away."""
    context = {"song_id": song_id, "page_title": f"Writing song #{song_id}",
               "permalink": site_url + reverse("songs:detail", args=[song_id])}
    # rstrip: a newline after the draft's opening tag would show (white-space: pre-wrap).
    yield render_to_string("songs/writing_start.html", context).rstrip().encode()
    attempt = 1
    async for event in flight.events():
        if isinstance(event, TextDelta):
            yield escape(event.text).encode()
        elif isinstance(event, Restart):
            attempt += 1
            yield (f'</div><style>#draft-{attempt - 1}{{display:none}}</style>'
                   f'<div class="draft" id="draft-{attempt}" aria-live="polite">').encode()
        elif isinstance(event, Stored):
            context.update(song_context(song=event.song, site_url=site_url))
            yield render_to_string("songs/writing_end.html", context).encode()
        elif isinstance(event, Broken):
            yield render_to_string("songs/writing_broken.html", context).encode()
