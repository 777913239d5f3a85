"""A simple accompaniment: one diatonic triad per bar, the one that best holds the bar's
melody notes (weighted by length, a downbeat note twice), the tonic chord on ties and in
every bar whose line cadences on the tonic."""

from __future__ import annotations

from billion_songs.core.melody.melody import Chord, Note
from billion_songs.core.melody.model import semitones_of

# Scale degrees (0-based) of the chords tried, the tonic first so that it wins ties.
CHORD_ROOTS = {"major": (0, 3, 4, 5, 1), "minor": (0, 3, 4, 5, 2, 6)}
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def triad(root_degree: int, tonic: int, mode: str) -> tuple[int, ...]:
    """The diatonic triad on a degree, voiced below the tune (root between C3 and B3)."""
    pitches = [semitones_of(root_degree + k, mode) for k in (0, 2, 4)]
    shift = 48 + (tonic + pitches[0]) % 12 - (tonic + pitches[0])
    return tuple(tonic + p + shift for p in pitches)


FLAT_KEYS = frozenset({"F", "Bb", "Eb", "Dm", "Gm", "Cm"})  # keys whose signature has flats
FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")


def symbol_of(pitches: tuple[int, ...], key_name: str) -> str:
    """The chord symbol, spelt as the key spells it: "Bb" in F major, "F#m" in D major."""
    root, third = pitches[0], pitches[1]
    names = FLAT_NAMES if key_name in FLAT_KEYS else PITCH_NAMES
    return names[root % 12] + ("m" if third - root == 3 else "dim" if pitches[2] - root == 6 else "")


def chords_for(notes: list[Note], *, bars: int, bar_beats: float, tonic: int, mode: str, key_name: str) -> list[Chord]:
    weights = [dict() for _ in range(bars)]
    cadence = [False] * bars
    for note in notes:
        bar = int(note.start // bar_beats)
        if bar >= bars:
            continue
        pc = (note.pitch - tonic) % 12
        downbeat = note.start == bar * bar_beats
        weights[bar][pc] = weights[bar].get(pc, 0.0) + note.duration * (2 if downbeat else 1)
        if note.phrase_end and pc == 0:
            cadence[bar] = True
    out = []
    for bar in range(bars):
        if cadence[bar] or not weights[bar]:
            root = 0
        else:
            def fit(degree: int) -> float:
                tones = {semitones_of(degree + k, mode) % 12 for k in (0, 2, 4)}
                return sum(w for pc, w in weights[bar].items() if pc in tones)
            root = max(CHORD_ROOTS[mode], key=lambda d: (fit(d), -CHORD_ROOTS[mode].index(d)))
        pitches = triad(root, tonic, mode)
        out.append(Chord(start=bar * bar_beats, duration=bar_beats, pitches=pitches,
                         symbol=symbol_of(pitches, key_name)))
    return out
