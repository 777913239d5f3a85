"""Writes. Each service is one transaction, takes keyword-only arguments and is named
<entity>_<action> (HackSoftware Django-Styleguide)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import transaction

from billion_songs.core.song import Song as GeneratedSong
from billion_songs.web.songs.models import Song


def _row(song: GeneratedSong, *, in_pool: bool) -> Song:
    return Song(
        id=song.id,
        title=song.title,
        lyrics=song.lyrics,
        model_version=song.model_version,
        ok=song.ok,
        failure_reason="" if song.ok else ", ".join(song.rejected) or "no attempt passed the quality guards",
        attempts=song.attempts,
        in_pool=in_pool and song.ok,
    )


@transaction.atomic
def song_store(*, song: GeneratedSong, in_pool: bool = False) -> Song:
    """Store a generated song, or return the one already stored under its id: a stored
    song is never replaced, even if another process generated the id concurrently or a
    newer model wrote it differently."""
    stored, _ = Song.objects.get_or_create(pk=song.id, defaults=_field_values(_row(song, in_pool=in_pool)))
    return stored


def _field_values(row: Song) -> dict:
    return {f.attname: getattr(row, f.attname) for f in Song._meta.concrete_fields if not f.primary_key}


@transaction.atomic
def songs_store_for_pool(*, songs: Sequence[GeneratedSong]) -> list[int]:
    """Store a batch from the pool filler; returns the ids of the good songs that it
    stored (an id stored meanwhile by a visitor is left alone and not pooled)."""
    already = set(Song.objects.filter(pk__in=[s.id for s in songs]).values_list("pk", flat=True))
    rows = [_row(s, in_pool=True) for s in songs if s.id not in already]
    Song.objects.bulk_create(rows, ignore_conflicts=True)
    return [row.id for row in rows if row.in_pool]


@transaction.atomic
def songs_leave_pool(*, song_ids: Iterable[int]) -> int:
    """Mark songs as served their share of times, so a restart does not pool them again."""
    song_ids = list(song_ids)
    updated = 0
    for start in range(0, len(song_ids), 500):  # stay under SQLite's bound-parameter limit
        updated += Song.objects.filter(pk__in=song_ids[start : start + 500]).update(in_pool=False)
    return updated
