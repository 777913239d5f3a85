"""The song plan: everything about a song's shape, drawn from its id before a word is
written.

    song id ─▶ brief (genre, mood, topic, form) ─▶ sections in form order
            ─▶ per section: kind, label, rhyme scheme, words per line
            ─▶ which later sections sing an earlier one again (the chorus)

A 135M model does not find song form on its own; the decoder (`decoder.py`) holds it to
this plan and lets it fill in the words. Every draw comes from `rng.derive` keyed by the
id, so the plan is a pure function of the id, the same in every process.
"""

from __future__ import annotations

from dataclasses import dataclass

from billion_songs.core.rng import derive
from billion_songs.core.song import Brief

GENRES = (
    "country", "folk", "blues", "rock", "pop", "soul", "gospel", "punk", "indie", "jazz",
    "synth-pop", "bluegrass", "reggae", "hip-hop", "disco", "metal", "lullaby", "sea shanty",
    "ballad", "grunge", "funk", "R&B", "cowboy", "dream-pop",
)
MOODS = (
    "sad", "joyful", "angry", "hopeful", "lonely", "playful", "nostalgic", "defiant",
    "tender", "restless", "bittersweet", "triumphant", "dreamy", "haunting", "lazy",
    "desperate", "grateful", "mysterious", "romantic", "furious", "calm", "wistful",
    "proud", "silly",
)
TOPICS = (
    "a night train leaving town", "a first kiss at a county fair", "a broken radio",
    "the last day of summer", "a dog who waits by the door", "leaving home for the city",
    "a lighthouse keeper", "rain on a tin roof", "an old friend's wedding", "a road trip west",
    "a lost letter", "working the night shift", "a storm at sea", "a small-town diner",
    "a grandmother's kitchen", "moving on after a breakup", "a campfire under the stars",
    "a factory closing down", "the first snow of winter", "dancing alone in the kitchen",
    "a river that floods every spring", "a secret kept too long", "a stolen guitar",
    "waking up in a strange city", "the moon over the desert", "a fisherman's daughter",
    "a phone call at midnight", "an empty stadium", "a garden after the rain",
    "the morning after a party", "a soldier coming home", "a carnival that left town",
    "a rooftop in July", "a mother's lullaby", "a long drive at dawn", "a house by the sea",
    "a coffee shop romance", "the end of the world", "a runaway horse", "a train station goodbye",
    "a wildfire on the hills", "children playing in the street", "a prison cell window",
    "a wedding ring in the river", "a ghost in the attic", "an astronaut far from home",
    "a jukebox in a bar", "the smell of rain", "a paper boat", "a bridge between two towns",
    "growing old together", "a city that never sleeps", "a snowed-in cabin", "a kite in the wind",
    "a church bell on Sunday", "a drifter with no name", "the neon lights of Main Street",
    "a letter from the war", "an apple orchard", "a broken-down truck", "the northern lights",
    "a late bus home", "a sunflower field", "a gambler's last hand",
)

VERSE, CHORUS, BRIDGE = "verse", "chorus", "bridge"
# Each form: the kinds of its sections in order. Every form sings its chorus at least
# twice; verses are written anew each time, the chorus once.
FORMS: dict[str, tuple[str, ...]] = {
    "verse-chorus": (VERSE, CHORUS, VERSE, CHORUS),
    "verse-chorus-bridge": (VERSE, CHORUS, VERSE, CHORUS, BRIDGE, CHORUS),
    "chorus-first": (CHORUS, VERSE, CHORUS, VERSE, CHORUS),
    "story": (VERSE, CHORUS, VERSE, CHORUS, VERSE, CHORUS),
}
# Rhyme schemes by section kind: equal letters rhyme, "X" is free. Couplets and alternate
# rhyme are what most sung verses use; XAXA (ABCB) is the folk ballad's.
SCHEMES = {
    VERSE: ("AABB", "ABAB", "XAXA", "AABB"),
    CHORUS: ("AABB", "XAXA", "ABAB"),
    BRIDGE: ("AA", "AABB"),
}
MIN_WORDS, MAX_WORDS = 4, 12  # a sung line, never a paragraph
TITLE_WORDS = (2, 5)  # shortest and longest title the plan asks for


@dataclass(frozen=True)
class LinePlan:
    words: int  # the line's target length in words
    rhyme: str  # its letter in the section's scheme ("X": free)

    @property
    def min_words(self) -> int:
        return max(MIN_WORDS, self.words - 2)

    @property
    def max_words(self) -> int:
        return min(MAX_WORDS, self.words + 3)


@dataclass(frozen=True)
class SectionPlan:
    kind: str
    label: str  # "Verse 2", "Chorus", "Bridge"
    scheme: str
    lines: tuple[LinePlan, ...]
    sings: int | None = None  # index of the earlier section sung again here, word for word


@dataclass(frozen=True)
class SongPlan:
    brief: Brief
    title_words: int  # the title's target length; the title opens the chorus (the hook)
    sections: tuple[SectionPlan, ...]

    @property
    def written_lines(self) -> int:
        """Lines the decoder writes (a chorus sung again is copied, not written)."""
        return sum(len(s.lines) for s in self.sections if s.sings is None)


def _pick(song_id: int, purpose: str, options, index: int = 0):
    return options[derive(song_id, purpose, index) % len(options)]


def brief_for(song_id: int) -> Brief:
    """The brief alone (cheap: four hashes), e.g. to narrow Make Random by mood."""
    return Brief(
        genre=_pick(song_id, "genre", GENRES),
        mood=_pick(song_id, "mood", MOODS),
        topic=_pick(song_id, "topic", TOPICS),
        form=_pick(song_id, "songform", tuple(FORMS)),
    )


def plan_song(song_id: int) -> SongPlan:
    brief = brief_for(song_id)
    sections: list[SectionPlan] = []
    first_of_kind: dict[str, int] = {}
    verses = 0
    for index, kind in enumerate(FORMS[brief.form]):
        if kind == CHORUS and CHORUS in first_of_kind:
            original = sections[first_of_kind[CHORUS]]
            sections.append(SectionPlan(CHORUS, "Chorus", original.scheme, original.lines, first_of_kind[CHORUS]))
            continue
        first_of_kind.setdefault(kind, index)
        scheme = _pick(song_id, "scheme", SCHEMES[kind], index + 1)
        base = 5 + derive(song_id, "linelen", index + 1) % 4  # 5 to 8 words a line
        lines = tuple(
            LinePlan(words=base + (derive(song_id, "lineword", 16 * index + i + 1) % 3) - 1, rhyme=letter)
            for i, letter in enumerate(scheme)
        )
        if kind == VERSE:
            verses += 1
        label = f"Verse {verses}" if kind == VERSE else kind.title()
        sections.append(SectionPlan(kind, label, scheme, lines))
    low, high = TITLE_WORDS
    title_words = low + derive(song_id, "title") % (high - low + 1)
    return SongPlan(brief=brief, title_words=title_words, sections=tuple(sections))
