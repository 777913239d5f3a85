"""The Melody record: what `compose` returns and the writers (MIDI, .kar, ABC) read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Note:
    """One sung note. Times are in beats (quarter notes) from the start of the song; a gap
    between one note's end and the next note's start is a rest."""

    pitch: int  # MIDI note number
    start: float
    duration: float
    syllable: str  # the piece of the lyrics sung on it, as the page spells it
    word: int  # index of the word in its line
    line: int  # index of the line among all sung lines of the song (a chorus sung again counts again)
    stanza: int  # index of the stanza (section) the line belongs to
    phrase_end: bool  # the line's last note (long, followed by a rest)

    def as_dict(self) -> dict:
        return {"pitch": self.pitch, "start": self.start, "duration": self.duration, "syllable": self.syllable,
                "word": self.word, "line": self.line, "stanza": self.stanza, "phrase_end": self.phrase_end}


@dataclass(frozen=True)
class Chord:
    """One bar's accompaniment: a triad held for the bar."""

    start: float  # beats
    duration: float
    pitches: tuple[int, ...]  # MIDI note numbers, root first
    symbol: str  # "G", "Em", "D"

    def as_dict(self) -> dict:
        return {"start": self.start, "duration": self.duration, "pitches": list(self.pitches), "symbol": self.symbol}


@dataclass(frozen=True)
class Melody:
    version: str  # MELODY_VERSION when composed
    title: str
    key: str  # the tonic's spelling: "G", "Eb", "F#"
    mode: str  # "major" or "minor"
    tonic: int  # MIDI pitch of the tonic the tune centres on
    tempo: int  # quarter notes per minute
    time_signature: tuple[int, int]  # (4, 4), (3, 4) or (6, 8)
    notes: tuple[Note, ...]
    chords: tuple[Chord, ...]

    @property
    def key_name(self) -> str:
        """"G" for G major, "Em" for E minor (as MIDI key signatures and ABC spell keys)."""
        return self.key + ("m" if self.mode == "minor" else "")

    @property
    def beats(self) -> float:
        """Length of the song in beats, to the end of its last bar."""
        return max((c.start + c.duration for c in self.chords), default=0.0)

    def as_dict(self) -> dict:
        """JSON-able form for the API."""
        return {
            "version": self.version,
            "key": self.key,
            "mode": self.mode,
            "tempo": self.tempo,
            "time_signature": f"{self.time_signature[0]}/{self.time_signature[1]}",
            "notes": [n.as_dict() for n in self.notes],
            "chords": [c.as_dict() for c in self.chords],
        }
