"""The song record and the song-id domain shared by every layer."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_SONG_ID = 2**64 - 1


class InvalidSongId(ValueError):
    """A song id that is not an integer in [0, 2**64-1]."""


def parse_song_id(value: str | int) -> int:
    """Return `value` as a song id, or raise InvalidSongId saying what is wrong with it."""
    if isinstance(value, bool):
        raise InvalidSongId(f"song id must be a whole number, got {value!r}")
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        # Only plain decimal digits: no signs, spaces, underscores or exponents, so that
        # every id has exactly one spelling (and one permalink).
        if text.startswith("-") and text[1:].isdigit():
            raise InvalidSongId(f"song id must not be negative, got {text}")
        if not text.isascii() or not text.isdigit():
            raise InvalidSongId(f"song id must be a whole number from 0 to {MAX_SONG_ID}, got {value!r}")
        if len(text) > 1 and text.startswith("0"):
            raise InvalidSongId(f"song id must not have leading zeros, got {text}")
        number = int(text)
    if number < 0:
        raise InvalidSongId(f"song id must not be negative, got {number}")
    if number > MAX_SONG_ID:
        raise InvalidSongId(f"song id must be at most {MAX_SONG_ID} (2**64-1), got {number}")
    return number


@dataclass(frozen=True)
class Brief:
    """What a song is asked to be, drawn from its id (billion_songs.core.songwriting.plan):
    shown on its page as tags and used to narrow Make Random."""

    genre: str  # "folk", "sea shanty", ...
    mood: str  # "sad", "hopeful", ...
    topic: str  # "a paper boat", ...
    form: str  # a key of songwriting.plan.FORMS: "verse-chorus", "verse-chorus-bridge", ...

    def as_dict(self) -> dict:
        return {"genre": self.genre, "mood": self.mood, "topic": self.topic, "form": self.form}


@dataclass(frozen=True)
class Section:
    """One stanza of a song: what it is ("verse", "chorus", "bridge") and its lines."""

    kind: str
    lines: tuple[str, ...]


def lyrics_of(sections: tuple[Section, ...]) -> str:
    """The sung text: stanzas separated by one blank line, no labels."""
    return "\n\n".join("\n".join(section.lines) for section in sections)


@dataclass(frozen=True)
class Song:
    """One generated song. `ok` is False when every attempt failed the quality guards;
    such a song is still a result (stored and shown as a failure), never an exception.

    Songs written by the songwriting decoder carry their `brief` and their `sections`
    (whose lines are exactly `lyrics`' stanzas); songs from the free-form decoder of older
    models have neither."""

    id: int
    title: str
    lyrics: str
    model_version: str
    ok: bool = True
    attempts: int = 1  # how many generations it took, 1 when the first one passed the guards
    rejected: tuple[str, ...] = field(default=())  # why each rejected attempt was rejected
    brief: Brief | None = None
    sections: tuple[Section, ...] = field(default=())

    @property
    def form(self) -> tuple[str, ...]:
        """The kind of each stanza, in order ("verse", "chorus", ...); empty when unknown."""
        return tuple(section.kind for section in self.sections)

    def as_text(self) -> str:
        """The song as the CLI prints it: title line, blank line, lyrics."""
        return f"{self.title}\n\n{self.lyrics}\n"

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "lyrics": self.lyrics,
            "model_version": self.model_version,
            "ok": self.ok,
            "attempts": self.attempts,
            "rejected": list(self.rejected),
            "brief": self.brief.as_dict() if self.brief else None,
            "sections": [{"kind": s.kind, "lines": list(s.lines)} for s in self.sections],
        }
