"""Flights: a never-seen id is written once, however many visitors ask for it meanwhile.
The first visitor starts a *flight*; visitors who arrive while it is being written join it
and replay its events from the start; everyone after it reads the stored song.

A flight's events are the engine's `TextDelta` and `Restart`, then exactly one terminal
event: `Stored` (the song as stored, ok or failed) or `Broken` (the engine raised, or no
writer could be reached; nothing is stored, so a later visit tries again).

A visitor's page asks through `Flights.admit`, which applies admission control
(admission.py): a cap per client address and a site-wide cap on queued generations,
beyond which the visitor is `Refused`; a queued flight whose visitors all left is
dropped before it starts (`Abandoned`).

A visitor's page looks for new events at most every SONG_STREAM_INTERVAL (0.2 s): the
text written meanwhile comes as one `TextDelta` (`merged`). Each look and each piece sent
cost the web process's event loop about half a millisecond, and a model writes a line
(the songwriting decoder) or a token (the "free" one) at a time: with the fake
generator's 20 lines a second, a new song's page of 21-31 lines took 34.5 ms of its web
process's loop read piece by piece, 16.8 ms at 0.2 s, and ends 0.14 s later
(bench/bench_stream.py).

Two implementations stand behind the `Flights` protocol: `local_flights.LocalFlights`
(the model in this process, a few writer threads taking flights from a bounded queue) and
`redis_flights.RedisFlights` (a Celery worker writes, the events come through a Redis
stream). The views and the streaming page are the same code for both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Protocol

from billion_songs.core.interface import Restart, TextDelta
from billion_songs.web.songs.data.models import Song
from billion_songs.web.songs.generation.admission import Refused


@dataclass(frozen=True)
class Stored:
    song: Song


@dataclass(frozen=True)
class Broken:
    reason: str


class Abandoned(Exception):
    """Raised where a queued flight would start: every visitor who asked for it has left,
    so it is not written (a later visit asks again)."""


FlightEvent = TextDelta | Restart | Stored | Broken


def merged(events: Iterable[FlightEvent]) -> list[FlightEvent]:
    """`events` with each run of consecutive `TextDelta`s joined into one."""
    out: list[FlightEvent] = []
    for event in events:
        if isinstance(event, TextDelta) and out and isinstance(out[-1], TextDelta):
            out[-1] = TextDelta(out[-1].text + event.text)
        else:
            out.append(event)
    return out


async def terminal_event(events: AsyncIterator[FlightEvent]) -> Stored | Broken:
    """The last event of a flight, the one that says how it ended."""
    async for event in events:
        if isinstance(event, (Stored, Broken)):
            return event
    raise AssertionError("a flight always ends with a terminal event")


class Flight(Protocol):
    """One generation of one id, as a visitor's page reads it."""

    song_id: int

    def events(self) -> AsyncIterator[FlightEvent]:
        """Every event from the first, then each new one; ends after the terminal event."""

    async def aresult(self) -> Stored | Broken:
        """The terminal event."""


class Flights(Protocol):
    """Get-or-generate by id: the flight writing `song_id` (the one in progress, or a new one)."""

    @property
    def in_flight(self) -> int:
        """Flights this process holds, queued or running (0 where workers write the songs)."""

    async def admit(self, song_id: int, *, client: str) -> Flight:
        """A visitor's wait on the flight writing `song_id`, within the admission caps
        (raises `admission.Refused` beyond them). The visitor counts as waiting until the
        returned flight's events end or are closed (the visitor left)."""

    async def foresee(self, song_id: int, *, client: str) -> Refused | None:
        """The `Refused` that `admit` would raise for `client` now, found without counting
        or enqueueing anything (the ASGI front, http/fast_path.py, answers it before
        Django); None when it would be admitted, or when it cannot tell. The admissions
        it foresaw before and whose visits have not come yet count as if they had
        (admission.py, `ForeseenAdmissions`)."""

    def flight(self, song_id: int) -> Flight:
        """The flight writing `song_id`, outside admission control and never dropped (for
        callers inside the site and tests)."""

    def warm(self) -> None:
        """Load now what the first new song would load (a web process calls it before its
        first visitor: web/server.py)."""
