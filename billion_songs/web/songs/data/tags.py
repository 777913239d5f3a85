"""A song's brief on the web: the tags its page shows (genre, mood, topic, form) and the
two that narrow Make Random (`/random?genre=folk&mood=sad`).

The values are the song plan's (`billion_songs.core.songwriting.plan`): a stored song's
brief equals `brief_for(id)` when the songwriting decoder wrote it. Songs stored before
briefs existed, or written by a model without a plan, have none: blank columns, no tags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from billion_songs.core.songwriting.plan import GENRES, MOODS

# What a query string may narrow Make Random by, and the values each takes.
NARROWING = {"genre": GENRES, "mood": MOODS}
# Case and surrounding spaces are forgiven (?mood=Sad); anything else is an unknown value.
_CANONICAL = {kind: {value.casefold(): value for value in values} for kind, values in NARROWING.items()}


class PoolEntry(NamedTuple):
    """A song id for the random pool with the tags that narrow Make Random ("" unknown)."""

    id: int
    genre: str = ""
    mood: str = ""


@dataclass(frozen=True)
class Narrowing:
    """Which songs a Make Random may pick: "" leaves that tag free."""

    genre: str = ""
    mood: str = ""

    def __bool__(self) -> bool:
        return bool(self.genre or self.mood)

    def matches(self, *, genre: str, mood: str) -> bool:
        return (not self.genre or genre == self.genre) and (not self.mood or mood == self.mood)


ANY = Narrowing()


class UnknownTag(ValueError):
    """A query string asked for a genre or mood that songs do not have."""

    def __init__(self, kind: str, value: str):
        super().__init__(f"there is no {kind} {value!r}")
        self.kind = kind
        self.value = value

    @property
    def known(self) -> tuple[str, ...]:
        return NARROWING[self.kind]


def narrowing_from(get: Callable[[str], str | None]) -> Narrowing:
    """The narrowing a query string asks for; `get` reads one parameter (the last value,
    like Django's `QueryDict.get`). An empty or absent parameter leaves its tag free;
    an unknown value raises UnknownTag."""
    chosen = {}
    for kind in NARROWING:
        value = (get(kind) or "").strip()
        if value:
            canonical = _CANONICAL[kind].get(value.casefold())
            if canonical is None:
                raise UnknownTag(kind, value)
            chosen[kind] = canonical
    return Narrowing(**chosen) if chosen else ANY
