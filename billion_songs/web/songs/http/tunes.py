"""A stored song's tune for the site: the melody composed from the stored song (a few
milliseconds; the last few hundred are kept in memory), and what the song page and the
API show of it. The downloads (.mid, .kar, .abc) are tune_files.py; their cache entries
are purged here when a song is hidden or shown again (this module is loaded with the
pages, in every process).

A song's tune is composed by the melody model whose version is stored with it
(`Song.melody_version`, set when the song is stored, like model_version). A song whose
stored version this build does not ship gets no tune rather than another one: its page
shows no player and its downloads are 404s.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

from django.core.cache import cache
from django.dispatch import receiver
from django.urls import reverse

from billion_songs.core.melody import MELODY_VERSION, Melody, compose, to_abc
from billion_songs.core.song import Song as CoreSong
from billion_songs.web.songs.data.core_song import core_song
from billion_songs.web.songs.data.events import songs_visibility_changed
from billion_songs.web.songs.data.models import Song


@dataclass(frozen=True)
class FileKind:
    url_name: str
    content_type: str
    extension: str


FILES = {
    "mid": FileKind("songs:midi", "audio/midi", "mid"),
    "kar": FileKind("songs:kar", "audio/midi", "kar"),
    "abc": FileKind("songs:abc", "text/vnd.abc; charset=utf-8", "abc"),
}


@lru_cache(maxsize=256)
def _composed(song: CoreSong) -> Melody:
    return compose(song)  # CoreSong is frozen: the whole stored song is the key


def melody_of(song: Song) -> Melody | None:
    """The song's melody; None for a failed or hidden song, or one whose melody version
    this build does not ship."""
    if not song.ok or song.hidden or song.melody_version != MELODY_VERSION:
        return None
    return _composed(core_song(song))


def file_key(kind: str, song_id: int) -> str:
    """The Django cache key of a download (tune_files.py)."""
    return f"songs:tune:{kind}:{MELODY_VERSION}:{song_id}"


@receiver(songs_visibility_changed, dispatch_uid="songs-tune-files-visibility")
def _visibility_changed(sender, song_ids: list[int], **kwargs) -> None:
    """A song hidden or shown again: its downloads are rendered afresh (a 410, or the
    tune). Purged now and once more two seconds later, as page_cache.py purges pages, in
    case a request that read the song just before the change was still rendering it."""
    keys = [file_key(kind, song_id) for song_id in song_ids for kind in FILES]
    cache.delete_many(keys)
    timer = threading.Timer(2.0, cache.delete_many, args=(keys,))
    timer.daemon = True
    timer.start()


# --- What the page and the API show ----------------------------------------------------------

def document(song: Song) -> dict | None:
    """The tune in /api/songs/<id>: key, mode, tempo, time signature, notes (pitch, start
    and duration in beats, syllable, word and line indices), chords; None: no tune."""
    melody = melody_of(song)
    return melody.as_dict() if melody is not None else None


def _page_words(song: Song) -> list[list[str]]:
    """The words of each line the page shows (blank lines inside a stanza give [])."""
    return [line.split() for _, stanza in song.labelled_stanzas for line in stanza.split("\n")]


def _sung_words(melody: Melody) -> dict[tuple[int, int], str]:
    """(line, word) -> the word as its syllables spell it."""
    words: dict[tuple[int, int], str] = {}
    for note in melody.notes:
        words[(note.line, note.word)] = words.get((note.line, note.word), "") + note.syllable
    return words


def word_offsets(song: Song, melody: Melody) -> tuple[list[int], int] | None:
    """The number, counted over the page's lyrics in reading order, of each sung line's
    first word, and the number of words; None when the page's words and the sung ones
    differ anywhere."""
    sung = _sung_words(melody)
    offsets: list[int] = []
    n = 0
    for words in _page_words(song):
        if not words:  # a blank line inside a stanza is not sung
            continue
        if any(sung.get((len(offsets), w)) != word for w, word in enumerate(words)):
            return None
        offsets.append(n)
        n += len(words)
    return (offsets, n) if n == len(sung) else None


def page_context(song: Song) -> dict | None:
    """The tune section of the song page: facts, ABC text, download links and the
    player's data. Each note carries the number of its word in the page's lyrics (read in
    order), which the player lights up as it is sung; -1 everywhere when the page's words
    and the sung ones differ (the tune then plays without highlighting)."""
    melody = melody_of(song)
    if melody is None:
        return None
    numbered = word_offsets(song, melody)
    offsets, words = numbered if numbered else (None, 0)
    numerator, denominator = melody.time_signature
    data = {
        "tempo": melody.tempo,
        "end": melody.beats,
        "words": words,  # how many words the page's lyrics have (0: no highlighting)
        # [pitch, start, duration, word number or -1]; times in beats (quarter notes)
        "notes": [[n.pitch, n.start, n.duration, offsets[n.line] + n.word if offsets else -1] for n in melody.notes],
        "chords": [[c.start, c.duration, list(c.pitches)] for c in melody.chords],
    }
    return {
        "key": f"{melody.key} {melody.mode}",
        "tempo": melody.tempo,
        "time_signature": f"{numerator}/{denominator}",
        "abc": to_abc(melody, song.title),
        "data": data,
        "downloads": [(FILES[kind].url_name, kind) for kind in FILES],
        "abcjs_url": reverse("songs:abcjs"),
    }
