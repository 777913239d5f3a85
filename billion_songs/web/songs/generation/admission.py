"""Admission control for new songs: how much writing anonymous visitors can cause.

A stored song costs a cache lookup; a never-seen id costs seconds of the model. So the
flights (flights.py) admit a visitor's wait for a new song only within two caps:

- per client address: the distinct new ids one client waits on at once
  (`per_client`; asking again for an id it already waits on costs nothing more);
- site-wide: the new-song generations queued for a writer (`queue`), on top of the
  `writers` being written.

Beyond them the visitor is `Refused` (the HTTP layer answers 429 or 503 with
Retry-After: http/admission.py). A queued flight whose visitors have all left is dropped
before it starts, so walking away from a page costs nothing. Stored songs never come
here: crawlers that follow links to them are served at full speed.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

from django.conf import settings


@dataclass(frozen=True)
class AdmissionLimits:
    per_client: int = 4  # distinct new ids one client address waits on at once
    queue: int = 32  # new-song generations waiting for a writer, site-wide
    writers: int = 2  # new songs written at once in a process holding the model
    retry_after: int = 10  # seconds to suggest when nothing better is known

    @classmethod
    def from_settings(cls) -> AdmissionLimits:
        return cls(per_client=settings.SONG_NEW_PER_CLIENT, queue=settings.SONG_NEW_QUEUE,
                   writers=max(1, settings.SONG_GENERATIONS_AT_ONCE or 1),
                   retry_after=settings.SONG_NEW_RETRY_AFTER)


class Refused(Exception):
    """A wait for a new song was not admitted. `reason`: "client" (this client waits on
    too many new songs: 429) or "busy" (the site-wide queue is full: 503)."""

    def __init__(self, reason: Literal["client", "busy"], retry_after: int):
        super().__init__(f"new song refused ({reason}); retry after {retry_after}s")
        self.reason = reason
        self.retry_after = retry_after


# Seconds an admission foreseen counts before its visit: a visitor who never comes to it
# (the song was stored after all, or they left) stops counting after this.
FORESEEN_FOR = 2.0


class ForeseenAdmissions:
    """Admissions a process foresaw (`Flights.foresee`: the ASGI front's look before
    Django) whose visits have not counted them yet. The front looks at a flood's requests
    one after another, each before the visit of the one before has counted its place: had
    the looks not counted these, a flood's first requests would all find the client's
    share and the queue empty and go to Django, whose visits then refuse all but the first
    few, at a full request cycle each (bench/bench_flood.py: refusals Django answered).
    Thread-safe (visits run on threads)."""

    def __init__(self, lasting: float = FORESEEN_FOR):
        self.lasting = lasting
        self._foreseen: dict[tuple[int, str], tuple[float, bool, bool]] = {}  # (id, client) -> (when, place, queued)
        self._lock = threading.Lock()

    def before(self, song_id: int, client: str) -> tuple[int, set[int]]:
        """What the admissions foreseen (but for this one) take: `client`'s places and
        the new ids they queue."""
        now = time.monotonic()
        with self._lock:
            for look, (when, _, _) in list(self._foreseen.items()):
                if now - when > self.lasting:
                    del self._foreseen[look]
            others = [(look, entry) for look, entry in self._foreseen.items() if look != (song_id, client)]
        places = sum(1 for (_, other), (_, place, _) in others if other == client and place)
        return places, {other_id for (other_id, _), (_, _, queued) in others if queued}

    def admitted(self, song_id: int, client: str, *, place: bool, queued: bool) -> None:
        """An admission foreseen: it takes a new place of `client` and/or queues the id."""
        if place or queued:
            with self._lock:
                self._foreseen[(song_id, client)] = (time.monotonic(), place, queued)

    def visited(self, song_id: int, client: str) -> None:
        """Its visit has come (counted, or refused): it no longer counts here."""
        with self._lock:
            self._foreseen.pop((song_id, client), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._foreseen)


class ClientWaits:
    """The new ids each client waits on, in this process (the one-machine shape; the
    scaled shape counts in Redis, redis_flights.py). Thread-safe."""

    def __init__(self, per_client: int):
        self.per_client = per_client
        self._waits: dict[str, dict[int, int]] = defaultdict(dict)  # client -> {song id: open waits}
        self._lock = threading.Lock()

    def enter(self, client: str, song_id: int) -> bool:
        """Count one more wait of `client` on `song_id`; False (nothing counted) when
        that would make the client wait on more than `per_client` distinct ids."""
        with self._lock:
            ids = self._waits[client]
            if song_id not in ids and len(ids) >= self.per_client:
                if not ids:
                    del self._waits[client]
                return False
            ids[song_id] = ids.get(song_id, 0) + 1
            return True

    def leave(self, client: str, song_id: int) -> None:
        with self._lock:
            ids = self._waits.get(client)
            if not ids or song_id not in ids:
                return
            ids[song_id] -= 1
            if ids[song_id] <= 0:
                del ids[song_id]
            if not ids:
                del self._waits[client]

    def refuses(self, client: str, song_id: int, *, foreseen: int = 0) -> bool:
        """Whether `enter` would refuse now (nothing counted), with `foreseen` more places
        taken (ForeseenAdmissions)."""
        with self._lock:
            ids = self._waits.get(client, ())
            return song_id not in ids and len(ids) + foreseen >= self.per_client

    def waits_on(self, client: str, song_id: int) -> bool:
        with self._lock:
            return song_id in self._waits.get(client, ())

    def waiting(self, client: str) -> int:
        with self._lock:
            return len(self._waits.get(client, ()))


class SongPace:
    """How long a visitor's song takes to write, as a moving average, to tell refused
    visitors when to come back."""

    def __init__(self, fallback: int):
        self.fallback = fallback
        self._seconds: float | None = None

    def record(self, seconds: float) -> None:
        self._seconds = seconds if self._seconds is None else 0.8 * self._seconds + 0.2 * seconds

    def retry_after(self, ahead: int, writers: int) -> int:
        """Seconds until `ahead` songs are written by `writers`, clamped to 1..300."""
        if self._seconds is None:
            return self.fallback
        return max(1, min(300, math.ceil(self._seconds * max(1, ahead) / max(1, writers))))

