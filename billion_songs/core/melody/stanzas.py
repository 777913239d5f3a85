"""A song's stanzas as the melody sings them: its sections when the song has them, else
(a song stored before song form) the lyrics' blank-line stanzas, where a stanza sung
again word for word is the chorus and the others are verses."""

from __future__ import annotations

from collections import Counter

from billion_songs.core.song import Section, Song


def stanzas_of(song: Song) -> tuple[Section, ...]:
    if song.sections:
        sections = (Section(s.kind, tuple(line for line in s.lines if line.strip())) for s in song.sections)
        return tuple(s for s in sections if s.lines)
    stanzas = []
    for block in song.lyrics.split("\n\n"):
        lines = tuple(line.strip() for line in block.split("\n") if line.strip())
        if lines:
            stanzas.append(lines)
    counts = Counter(stanzas)
    return tuple(Section("chorus" if counts[lines] > 1 else "verse", lines) for lines in stanzas)


def sung_lines(song: Song) -> list[str]:
    """Every line the song sings, in order (a chorus as often as it is sung)."""
    return [line for section in stanzas_of(song) for line in section.lines]
