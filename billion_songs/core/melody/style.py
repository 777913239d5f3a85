"""Key, mode, tempo and meter from the song's brief (genre and mood), with the id's RNG
choosing among the keys and nudging the tempo.

Sad, lonely, haunting... moods sing in minor; bittersweet, nostalgic, restless and dreamy
ones in minor or major by the id. Slow genres (ballad, lullaby, blues) and slow moods
(sad, tender, calm...) take a slower tempo; a sea shanty and a lullaby sway in 6/8, a
cowboy song waltzes in 3/4, a ballad or folk song may do either; the rest keep 4/4.
"""

from __future__ import annotations

from dataclasses import dataclass

from billion_songs.core.rng import derive
from billion_songs.core.song import Brief

MINOR_MOODS = frozenset({"sad", "lonely", "haunting", "desperate", "mysterious", "wistful", "angry", "furious"})
EITHER_MOODS = frozenset({"bittersweet", "nostalgic", "restless", "dreamy"})
SLOW_MOODS = frozenset({"sad", "lonely", "tender", "calm", "lazy", "dreamy", "wistful", "nostalgic"})
FAST_MOODS = frozenset({"joyful", "angry", "furious", "triumphant", "playful", "restless", "defiant", "silly"})
# Quarter notes per minute, before the mood.
GENRE_TEMPO = {
    "country": 104, "folk": 100, "blues": 84, "rock": 120, "pop": 112, "soul": 92, "gospel": 84, "punk": 160,
    "indie": 108, "jazz": 112, "synth-pop": 118, "bluegrass": 132, "reggae": 80, "hip-hop": 92, "disco": 120,
    "metal": 140, "lullaby": 100, "sea shanty": 132, "ballad": 72, "grunge": 100, "funk": 104, "R&B": 84,
    "cowboy": 120, "dream-pop": 88,
}
GENRE_METERS = {"sea shanty": ("6/8",), "lullaby": ("6/8", "3/4"), "cowboy": ("3/4",), "ballad": ("4/4", "3/4"),
                "folk": ("4/4", "3/4", "6/8"), "gospel": ("4/4", "6/8")}
# Tonics (pitch class, spelling): keys a tune in them reads well in, tonic near middle C.
MAJOR_KEYS = ((0, "C"), (2, "D"), (3, "Eb"), (5, "F"), (7, "G"), (9, "A"), (10, "Bb"))
MINOR_KEYS = ((9, "A"), (11, "B"), (0, "C"), (2, "D"), (4, "E"), (6, "F#"), (7, "G"))
DEFAULT_BRIEF = Brief(genre="folk", mood="hopeful", topic="", form="")


@dataclass(frozen=True)
class Style:
    key: str  # the tonic's spelling: "G", "Eb", "F#"
    mode: str  # "major" or "minor"
    tonic: int  # MIDI pitch of the tonic the tune centres on (59 to 70)
    tempo: int  # quarter notes per minute
    meter: str  # "4/4", "3/4" or "6/8"

    @property
    def key_name(self) -> str:
        """The key as MIDI key-signature metas and ABC spell it: "G", "Em"."""
        return self.key + ("m" if self.mode == "minor" else "")


def style_for(song_id: int, brief: Brief | None) -> Style:
    brief = brief or DEFAULT_BRIEF
    if brief.mood in MINOR_MOODS:
        mode = "minor"
    elif brief.mood in EITHER_MOODS:
        mode = ("major", "minor")[derive(song_id, "mmode") % 2]
    else:
        mode = "major"
    keys = MAJOR_KEYS if mode == "major" else MINOR_KEYS
    pc, key = keys[derive(song_id, "mkey") % len(keys)]
    tonic = 60 + pc if pc <= 10 else 48 + pc
    tempo = GENRE_TEMPO.get(brief.genre, 104)
    if brief.mood in SLOW_MOODS:
        tempo = tempo * 85 // 100
    elif brief.mood in FAST_MOODS:
        tempo = tempo * 110 // 100
    tempo += derive(song_id, "mtempo") % 9 - 4
    meters = GENRE_METERS.get(brief.genre, ("4/4",))
    meter = meters[derive(song_id, "mmeter") % len(meters)]
    return Style(key=key, mode=mode, tonic=tonic, tempo=tempo, meter=meter)
