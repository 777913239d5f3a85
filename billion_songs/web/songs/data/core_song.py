"""A stored song as the core reads it (billion_songs.core.song.Song): what the melody
composer takes. Built from the stored row alone, so a stored song's tune depends only on
what was stored (its lyrics, stanza kinds and brief) and its id."""

from __future__ import annotations

from billion_songs.core.song import Brief, Section
from billion_songs.core.song import Song as CoreSong
from billion_songs.web.songs.data.models import Song


def core_song(song: Song) -> CoreSong:
    brief = song.brief
    sections = tuple(Section(kind, tuple(stanza.split("\n"))) for kind, stanza in song.labelled_stanzas if kind)
    return CoreSong(
        id=song.id,
        title=song.title,
        lyrics=song.lyrics,
        model_version=song.model_version,
        ok=song.ok,
        attempts=song.attempts,
        brief=Brief(**brief) if brief else None,
        sections=sections,  # () for a song stored without stanza kinds: the composer finds them
    )
