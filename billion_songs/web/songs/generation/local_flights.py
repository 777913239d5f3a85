"""Flights in this process (the one-machine shape): a flight is one id written with the
`SongWriter`; the visitors' pages subscribe to its events. Within one process, the
dictionary of flights in progress is the single-flight lock (see flights.py for what a
flight is, and redis_flights.py for the same across processes).

Admission control (admission.py) bounds what visitors can cause here: at most
`limits.writers` flights are written at once, each by a writer thread that then takes
the next flight from a queue of at most `limits.queue`; a visitor waits on at most
`limits.per_client` distinct new ids. A queued flight costs no thread, and one whose
visitors all left is taken out of the queue at once. Only flights being written make the
pool filler pause (`VisitorsFirst` counts them inside `SongWriter.write`), so a flood of
queued or abandoned ids cannot keep it paused for longer than the queue takes to drain.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable

from django.conf import settings
from django.db import close_old_connections

from billion_songs.web.songs.generation.admission import (AdmissionLimits, ClientWaits, ForeseenAdmissions, Refused,
                                                           SongPace)
from billion_songs.web.songs.generation.flights import Broken, FlightEvent, Stored, merged, terminal_event
from billion_songs.web.songs.generation.writer import SongWriter

log = logging.getLogger(__name__)


class LocalFlight:
    """One generation of one id, observable by any number of subscribers, sync or async."""

    def __init__(self, song_id: int, *, stream_interval: float = 0.0) -> None:
        self.song_id = song_id
        self.stream_interval = stream_interval  # seconds between a subscriber's looks (flights.py)
        self._events: list[FlightEvent] = []
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self.done = threading.Event()
        # Bookkeeping of LocalFlights, under its lock:
        self.visits = 0  # admitted visitors still waiting for it
        self.kept = False  # asked for outside admission (`flight()`): written whatever happens
        self.started = False  # taken by a writer thread: no longer dropped when its visitors leave

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
        """Every event from the first, then the new ones, looked for at most every
        `stream_interval` (the text published meanwhile joined: flights.py `merged`);
        ends after the terminal event. Waiting costs no thread: the publisher wakes this
        loop."""
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
            for event in merged(new):
                yield event
                if isinstance(event, (Stored, Broken)):
                    return
            if self.stream_interval > 0:
                await asyncio.sleep(self.stream_interval)

    def result(self, timeout: float | None = None) -> Stored | Broken:
        """Block until the terminal event (for synchronous callers)."""
        if not self.done.wait(timeout):
            raise TimeoutError(f"song {self.song_id} was not written within {timeout}s")
        return self._events[-1]

    async def aresult(self) -> Stored | Broken:
        return await terminal_event(self.events())


class LocalVisit:
    """One admitted visitor's wait on a `LocalFlight`: the flight's events, with the
    visitor counted as waiting until they end, the visitor leaves (the request is
    cancelled, which closes the events), or the visit is garbage collected."""

    def __init__(self, flight: LocalFlight, leave: Callable[[], None]):
        self.flight = flight
        self.song_id = flight.song_id
        # Runs once, whichever comes first; it holds no reference to the visit itself.
        self.leave = weakref.finalize(self, leave)

    async def events(self) -> AsyncIterator[FlightEvent]:
        try:
            async for event in self.flight.events():
                if isinstance(event, (Stored, Broken)):
                    self.leave()
                yield event
        finally:
            self.leave()

    async def aresult(self) -> Stored | Broken:
        try:
            return await self.flight.aresult()
        finally:
            self.leave()

    def result(self, timeout: float | None = None) -> Stored | Broken:
        try:
            return self.flight.result(timeout)
        finally:
            self.leave()


class LocalFlights:
    """`Flights` for a process that holds the model (see the module's docstring)."""

    def __init__(self, *, writer: SongWriter, limits: AdmissionLimits | None = None,
                 stream_interval: float | None = None):
        self.writer = writer
        self.limits = limits or AdmissionLimits.from_settings()
        self.stream_interval = settings.SONG_STREAM_INTERVAL if stream_interval is None else stream_interval
        self.clients = ClientWaits(self.limits.per_client)
        self.pace = SongPace(self.limits.retry_after)
        self.foreseen = ForeseenAdmissions()  # admissions foreseen here, not visited yet
        self._flights: dict[int, LocalFlight] = {}
        self._queue: deque[LocalFlight] = deque()  # registered, waiting for a writer thread
        self._writing = 0  # writer threads running
        # Reentrant: a visit garbage-collected while this thread holds the lock leaves here.
        self._lock = threading.RLock()

    @property
    def in_flight(self) -> int:
        return len(self._flights)

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def writing(self) -> int:
        return self._writing

    def flight(self, song_id: int) -> LocalFlight:
        """The flight writing `song_id`, outside admission control (never dropped)."""
        with self._lock:
            flight = self._register(song_id, bounded=False)
            flight.kept = True
            starting = self._dispatch()
        self._start(starting)
        return flight

    async def admit(self, song_id: int, *, client: str) -> LocalVisit:
        return self.visit(song_id, client=client)

    def warm(self) -> None:
        """Nothing to load: the writer and its model are this process's, loaded at start."""

    async def foresee(self, song_id: int, *, client: str) -> Refused | None:
        """The checks of `visit`, in its order, counting nothing (no I/O: a look at this
        process's counts), but the admissions foreseen before whose visits have not come
        yet (`foreseen`), as if they had."""
        places, queued = self.foreseen.before(song_id, client)
        if self.clients.refuses(client, song_id, foreseen=places):
            return Refused("client", self.pace.retry_after(1, 1))
        limits = self.limits
        new_id = song_id not in self._flights and song_id not in queued
        if new_id:
            # Each id foreseen queued starts a writer while one is free, else waits in the queue.
            starting = min(len(queued), max(0, limits.writers - self._writing))
            writing, waiting = self._writing + starting, len(self._queue) + len(queued) - starting
            if writing >= limits.writers and waiting >= limits.queue:
                return Refused("busy", self.pace.retry_after(waiting + writing, limits.writers))
        self.foreseen.admitted(song_id, client, place=not self.clients.waits_on(client, song_id), queued=new_id)
        return None

    def visit(self, song_id: int, *, client: str) -> LocalVisit:
        """`admit` for synchronous callers."""
        try:
            return self._visit(song_id, client)
        finally:  # counted in this process's flights now, if admitted
            self.foreseen.visited(song_id, client)

    def _visit(self, song_id: int, client: str) -> LocalVisit:
        if not self.clients.enter(client, song_id):
            raise Refused("client", self.pace.retry_after(1, 1))
        try:
            with self._lock:
                flight = self._register(song_id, bounded=True)
                flight.visits += 1
                starting = self._dispatch()
        except Refused:
            self.clients.leave(client, song_id)
            raise
        self._start(starting)
        return LocalVisit(flight, lambda: self._leave(flight, client))

    # --- Under the lock ----------------------------------------------------------------

    def _register(self, song_id: int, *, bounded: bool) -> LocalFlight:
        """The flight in progress for `song_id`, or a new one at the end of the queue."""
        flight = self._flights.get(song_id)
        if flight is None:
            if bounded and self._writing >= self.limits.writers and len(self._queue) >= self.limits.queue:
                ahead = len(self._queue) + self._writing
                raise Refused("busy", self.pace.retry_after(ahead, self.limits.writers))
            flight = self._flights[song_id] = LocalFlight(song_id, stream_interval=self.stream_interval)
            self._queue.append(flight)
        return flight

    def _dispatch(self) -> list[LocalFlight]:
        """Flights to start writer threads for, while fewer than `writers` run."""
        starting = []
        while self._writing < self.limits.writers and self._queue:
            flight = self._queue.popleft()
            flight.started = True
            self._writing += 1
            starting.append(flight)
        return starting

    def _next(self) -> LocalFlight | None:
        """The next queued flight for a writer thread that finished one, or None (the
        thread ends)."""
        if not self._queue:
            self._writing -= 1
            return None
        flight = self._queue.popleft()
        flight.started = True
        return flight

    # --- Threads -----------------------------------------------------------------------

    def _start(self, flights: list[LocalFlight]) -> None:
        for flight in flights:
            try:
                threading.Thread(target=self._write, args=(flight,), name=f"song-{flight.song_id}",
                                 daemon=True).start()
            except Exception as error:  # no thread to be had (RuntimeError: can't start new thread)
                log.error("Song %d: no thread to write it (%s)", flight.song_id, error)
                self._not_started(flight)

    def _not_started(self, flight: LocalFlight) -> None:
        """A writer thread could not start: the flight is unregistered and its visitors
        told to try again, so that the id does not hang until a restart. When no writer
        thread runs, the queued flights would wait forever: they are told the same."""
        with self._lock:
            self._writing -= 1
            failed = [flight]
            if self._writing == 0:
                failed += list(self._queue)
                self._queue.clear()
            for each in failed:
                if self._flights.get(each.song_id) is each:
                    del self._flights[each.song_id]
        for each in failed:
            each.publish(Broken("the server is too busy to write this song just now"))

    def _write(self, flight: LocalFlight | None) -> None:
        while flight is not None:
            self._fly(flight)
            with self._lock:
                # Only now, after the song is committed, may a new visitor miss the flight.
                if self._flights.get(flight.song_id) is flight:
                    del self._flights[flight.song_id]
                flight = self._next()

    def _fly(self, flight: LocalFlight) -> None:
        started = time.monotonic()
        try:
            song, written = self.writer.write(flight.song_id, publish=flight.publish)
            if written:
                self.pace.record(time.monotonic() - started)
            flight.publish(Stored(song))
        except Exception as error:  # the engine failed: tell the visitors, store nothing
            log.exception("Generating song %d failed", flight.song_id)
            flight.publish(Broken(f"{type(error).__name__}: {error}"))
        finally:
            close_old_connections()

    def _leave(self, flight: LocalFlight, client: str) -> None:
        """A visitor stopped waiting. The last visitor of a queued flight takes it out of
        the queue: nothing is written for visitors who left."""
        self.clients.leave(client, flight.song_id)
        with self._lock:
            flight.visits -= 1
            dropped = (flight.visits == 0 and not flight.kept and not flight.started
                       and self._flights.get(flight.song_id) is flight)
            if dropped:
                self._queue.remove(flight)
                del self._flights[flight.song_id]
        if dropped:
            log.info("Song %d: dropped from the queue, nobody waits for it any more", flight.song_id)
            flight.publish(Broken("nobody waits for this song any more"))
