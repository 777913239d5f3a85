"""A stored song's tune as files: /song/<id>.mid (melody, chords, tempo, key and time
signature), .kar (the same with one lyric event per syllable) and .abc, rendered from its
melody (tunes.py) and kept in the Django cache as the song's pages are (a stored song's
tune never changes; hiding the song purges them, see tunes.py)."""

from __future__ import annotations

import hashlib

from django.core.cache import cache

from billion_songs.core.melody import to_abc, to_kar, to_midi
from billion_songs.web.songs.data.models import Song
from billion_songs.web.songs.http.pages import Page
from billion_songs.web.songs.http.tunes import FILES, file_key, melody_of


def _file(body: bytes, content_type: str, status: int = 200) -> Page:
    # A Page, as the song's pages are, so that page_cache answers it with the same rules.
    return Page(body=body, etag=f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"',
                content_type=content_type, status=status)


def file_render(song: Song, kind: str) -> Page | None:
    """The file (a 410 for a hidden song); None: the song has no tune."""
    if song.hidden:
        return _file(b"This song was removed.\n", "text/plain; charset=utf-8", status=410)
    melody = melody_of(song)
    if melody is None:
        return None
    if kind == "mid":
        body = to_midi(melody)
    elif kind == "kar":
        body = to_kar(melody)
    else:
        body = to_abc(melody, song.title).encode()
    return _file(body, FILES[kind].content_type)


def file_cached(kind: str, song_id: int) -> Page | None:
    return cache.get(file_key(kind, song_id))


def file_render_and_cache(song: Song, kind: str) -> Page | None:
    page = file_render(song, kind)
    if page is not None:
        cache.set(file_key(kind, song.id), page, timeout=None)
    return page


def download_name(song_id: int, kind: str) -> str:
    return f"song-{song_id}.{FILES[kind].extension}"
