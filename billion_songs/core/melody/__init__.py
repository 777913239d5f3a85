"""A melody for every song: composed from the stored song (lyrics, form, brief, id),
written as MIDI, karaoke MIDI (.kar) and ABC notation. See docs/melody.md."""

from billion_songs.core.melody.abc import to_abc
from billion_songs.core.melody.composer import compose, warm
from billion_songs.core.melody.kar import to_kar
from billion_songs.core.melody.melody import Chord, Melody, Note
from billion_songs.core.melody.midi import to_midi
from billion_songs.core.melody.version import MELODY_VERSION

__all__ = ["MELODY_VERSION", "Chord", "Melody", "Note", "compose", "to_abc", "to_kar", "to_midi", "warm"]
