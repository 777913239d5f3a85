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

    def refuses(self, client: str, song_id: int) -> bool:
        """Whether `enter` would refuse now (nothing counted)."""
        with self._lock:
            ids = self._waits.get(client, ())
            return song_id not in ids and len(ids) >= self.per_client

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

