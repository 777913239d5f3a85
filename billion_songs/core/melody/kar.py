"""Karaoke MIDI (.kar, the Soft Karaoke layout players read): the MIDI file's tracks plus
a "Words" track with one text event per sung syllable, at the moment it is sung.

Markers on a syllable's text, as karaoke players read them: "\\" starts a new stanza
(players clear the screen), "/" a new line, a leading space a new word; the other
syllables of a word follow with nothing in between ("ri" "ver,"). The Words track opens
with the format's "@" header events (@KMIDI KARAOKE FILE, @V0100, @LENGL, @T title).
Text is Latin-1, as the format has it; a character outside it is written as "?".
"""

from __future__ import annotations

import io

import mido

from billion_songs.core.melody.melody import Melody
from billion_songs.core.melody.midi import chord_events, conductor_events, file_bytes, melody_events, ticks, track

WORDS_TRACK = "Words"


def _latin1(text: str) -> str:
    return text.encode("latin-1", errors="replace").decode("latin-1")


def syllable_texts(melody: Melody) -> list[str]:
    """The text event of each note, markers included."""
    out = []
    previous = None
    for note in melody.notes:
        if previous is None:
            marker = ""
        elif note.stanza != previous.stanza:
            marker = "\\"
        elif note.line != previous.line:
            marker = "/"
        elif note.word != previous.word:
            marker = " "
        else:
            marker = ""
        out.append(marker + _latin1(note.syllable))
        previous = note
    return out


def to_kar(melody: Melody) -> bytes:
    header = ["@KMIDI KARAOKE FILE", "@V0100", "@LENGL", "@T" + _latin1(melody.title), "@IBillion Songs"]
    words = [(0, 0, mido.MetaMessage("text", text=text)) for text in header]
    for note, text in zip(melody.notes, syllable_texts(melody)):
        words.append((ticks(note.start), 1, mido.MetaMessage("text", text=text)))
    return file_bytes([
        track("Soft Karaoke", conductor_events(melody)),
        track(WORDS_TRACK, words),
        track("Melody", melody_events(melody)),
        track("Chords", chord_events(melody)),
    ])


def lyric_events(data: bytes) -> list[str]:
    """The syllable events of a .kar file (its Words track's text, less the @ headers)."""
    midi = mido.MidiFile(file=io.BytesIO(data))
    for t in midi.tracks:
        if t.name == WORDS_TRACK:
            return [m.text for m in t if m.type == "text" and not m.text.startswith("@")]
    return []


def lyric_text(events: list[str]) -> str:
    """The lyrics a karaoke player shows for these events: stanzas split by a blank line."""
    out = []
    for text in events:
        if text.startswith("\\"):
            out.append("\n\n" + text[1:])
        elif text.startswith("/"):
            out.append("\n" + text[1:])
        else:
            out.append(text)
    return "".join(out)
