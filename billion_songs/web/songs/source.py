"""Songs by id, generated at most once: the first visitor of a never-seen id starts a
*flight* (one generation in a thread); visitors who arrive while it is being written join
it and replay its events from the start; everyone after it reads the stored song.

Flight events are the engine's `TextDelta` and `Restart`, then exactly one terminal
event: `Stored` (the song as stored, ok or failed) or `Broken` (the engine raised; nothing
is stored, so a later visit tries again).

Issue 6 adds a cross-process lock (Redis) in front of `SongSource.flight`; within one
process the dictionary below is the single-flight lock.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass

from django.db import close_old_connections

from billion_songs.core.interface import Finished, LyricsGenerator, Restart, TextDelta
from billion_songs.web.songs import selectors, services
from billion_songs.web.songs.models import Song
from billion_songs.web.songs.priority import VisitorsFirst

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stored:
    song: Song


@dataclass(frozen=True)
class Broken:
    reason: str


FlightEvent = TextDelta | Restart | Stored | Broken


async def terminal_event(events: AsyncIterator[FlightEvent]) -> Stored | Broken:
    """The last event of a flight, the one that says how it ended."""
    async for event in events:
        if isinstance(event, (Stored, Broken)):
            return event
    raise AssertionError("a flight always ends with a terminal event")


class Flight:
    """One generation of one id, observable by any number of subscribers, sync or async."""

    def __init__(self, song_id: int) -> None:
        self.song_id = song_id
        self._events: list[FlightEvent] = []
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self.done = threading.Event()

    def publish(self, event: FlightEvent) -> None:
        with self._lock:
            self._events.append(event)
            waiters, self._waiters = self._waiters, []
            if isinstance(event, (Stored, Broken)):
                self.done.set()
        for loop, waiter in waiters:
            try:
                loop.call_soon_threadsafe(waiter.set)
            except RuntimeError:  # that subscriber's loop has closed: it left
                pass

    async def events(self) -> AsyncIterator[FlightEvent]:
        """Every event from the first, then each new one as it is published; ends after the
        terminal event. Waiting costs no thread: the publisher wakes this loop."""
        seen = 0
        loop = asyncio.get_running_loop()
        while True:
            waiter = asyncio.Event()
            with self._lock:
                new = self._events[seen:]
                if not new:
                    self._waiters.append((loop, waiter))
            if not new:
                await waiter.wait()
                continue
            seen += len(new)
            for event in new:
                yield event
                if isinstance(event, (Stored, Broken)):
                    return

    def result(self, timeout: float | None = None) -> Stored | Broken:
        """Block until the terminal event (for synchronous callers)."""
        if not self.done.wait(timeout):
            raise TimeoutError(f"song {self.song_id} was not written within {timeout}s")
        return self._events[-1]

    async def aresult(self) -> Stored | Broken:
        return await terminal_event(self.events())


class SongSource:
    """Get-or-generate by id. `generations_at_once` bounds the visitors' generations
    running together (a crawler walking new ids must not start hundreds); extra flights
    wait their turn, their visitors already looking at the page shell."""

    def __init__(self, *, generator: LyricsGenerator, priority: VisitorsFirst, generations_at_once: int = 2):
        self.generator = generator
        self.priority = priority
        self._flights: dict[int, Flight] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(generations_at_once)

    @property
    def in_flight(self) -> int:
        return len(self._flights)

    def flight(self, song_id: int) -> Flight:
        """The flight writing `song_id`: the one in progress, or a new one."""
        with self._lock:
            flight = self._flights.get(song_id)
            if flight is None:
                flight = self._flights[song_id] = Flight(song_id)
                threading.Thread(target=self._fly, args=(flight,), name=f"song-{song_id}", daemon=True).start()
        return flight

    def _fly(self, flight: Flight) -> None:
        try:
            with self.priority.visitor(), self._slots:
                # Stored meanwhile (by the previous flight of this id, another process or
                # the pool filler)? Then serve that: an id is never generated twice.
                song = selectors.song_get(song_id=flight.song_id)
                if song is None:
                    song = self._generate(flight)
            flight.publish(Stored(song))
        except Exception as error:  # the engine failed: tell the visitors, store nothing
            log.exception("Generating song %d failed", flight.song_id)
            flight.publish(Broken(f"{type(error).__name__}: {error}"))
        finally:
            # Only now, after the song is committed, may a new visitor miss the flight.
            with self._lock:
                self._flights.pop(flight.song_id, None)
            close_old_connections()

    def _generate(self, flight: Flight) -> Song:
        for event in self.generator.stream(flight.song_id):
            if isinstance(event, Finished):
                return services.song_store(song=event.song)
            flight.publish(event)
        raise RuntimeError("the generator's stream ended without a Finished event")
