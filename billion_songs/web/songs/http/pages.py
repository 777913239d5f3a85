"""Turning songs into bytes: the stored song page (rendered once, cached with its ETag),
the page that streams a song while it is written, and the JSON document (the cache is
page_cache.py).

A stored song's page is the same bytes for every visitor: no user, session or CSRF token
goes into it (templates are rendered without the request, so no context processor runs),
which is what lets browsers and CDNs cache it publicly. A song hidden by a moderator gets
a "removed" page instead (status 410), and its cached pages are purged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import escape

from billion_songs.core.interface import Restart, TextDelta
from billion_songs.web.songs.data.models import Song
from billion_songs.web.songs.generation.flights import Broken, Flight, Stored
from billion_songs.web.songs.http import offload, tunes


@dataclass(frozen=True)
class Page:
    body: bytes
    etag: str  # quoted, strong: a hash of the body
    content_type: str
    status: int = 200  # 410 for a song a moderator hid


def song_context(*, song: Song, site_url: str) -> dict:
    permalink = site_url + reverse("songs:detail", args=[song.id])
    first_lines = song.first_lines
    return {
        "song": song,
        "stanzas": song.labelled_stanzas,  # (kind, text): a caption per stanza when known
        "permalink": permalink,
        "description": " / ".join(first_lines) if song.ok else "This song could not be written.",
        "page_title": song.title if song.ok and song.title else f"Song #{song.id}",
        "tune": tunes.page_context(song),  # the player, sheet music and downloads; None: no tune
    }


def _page(body: str, content_type: str, status: int = 200) -> Page:
    data = body.encode()
    return Page(body=data, etag=f'"{hashlib.blake2b(data, digest_size=12).hexdigest()}"', content_type=content_type,
                status=status)


def song_page_render(*, song: Song, site_url: str) -> Page:
    if song.hidden:
        context = {"song_id": song.id, "page_title": "Song removed"}
        return _page(render_to_string("songs/removed.html", context), "text/html; charset=utf-8", status=410)
    return _page(render_to_string("songs/song.html", song_context(song=song, site_url=site_url)),
                 "text/html; charset=utf-8")


def song_json_render(*, song: Song, site_url: str) -> Page:
    if song.hidden:
        return _page(json.dumps({"id": str(song.id), "error": "this song was removed"}), "application/json",
                     status=410)
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
        "brief": song.brief,  # {genre, mood, topic, form}, or None for a song stored without one
        "sections": song.section_list,  # [{kind, lines}], or [] when unknown
        "melody": tunes.document(song),  # {key, mode, tempo, time_signature, notes, ...}; None: no tune
    }
    if not song.ok:
        document["failure_reason"] = song.failure_reason
    return document


RENDERERS = {"html": song_page_render, "json": song_json_render}


def _finished_render(context: dict, song: Song, site_url: str) -> bytes:
    """The end of a written song's page: the finished song, its tune included."""
    finished = {**context, **song_context(song=song, site_url=site_url)}
    return render_to_string("songs/writing_end.html", finished).encode()


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
            # site.css hides every draft followed by another (.draft:has(~ .draft)), so a
            # restart needs no inline style (the CSP allows only hashed ones).
            yield f'</div><div class="draft" id="draft-{attempt}" aria-live="polite">'.encode()
        elif isinstance(event, Stored):
            # Off the event loop (offload.py says why): composing the tune and rendering
            # the page held every other request of the process meanwhile, about 10 ms a
            # song (the stored pages read during a flood of new ids: bench/bench_flood.py).
            yield await offload.rendered(_finished_render, context, event.song, site_url)
        elif isinstance(event, Broken):
            yield render_to_string("songs/writing_broken.html", context).encode()
