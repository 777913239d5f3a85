"""Refusals paced for a visitor who comes back before the Retry-After it was given.

A script that walks never-seen ids asks again the moment it is refused. The ASGI front's
refusal (fast_path.py) is cheap, about 1.3 ms of a web process's event loop and 0.9 ms of
a thread (the database's look, which batches when refusals come together), but a script
with 100 connections answered that fast asked over a thousand times a second and took both
cores of the bench machine for as long as its flood lasted; the stored pages others read
waited behind it (bench/bench_flood.py --scaled: stored-page p99 2.6-4.1x quiet; paced
at 100 a second, 2-3.4x; at 25, the default, 1.3-1.9x).

Here a visitor refused and back before its Retry-After gets its next refusal in a slot:
at most SONG_EARLY_REFUSALS_PER_SECOND such refusals a second per web process, each
waiting for its slot without using the CPU. A script that waits for each answer then asks
at that pace, whatever its connections; a visitor who waits as told is never held, nor is
anyone's first refusal. At most SONG_EARLY_REFUSALS_HELD refusals wait at once per process
(past that they are answered at once), so held refusals cannot take the process's
connection slots (uvicorn's limit_concurrency), and the visitors remembered are bounded
too (`_REMEMBERED`). The wait comes after the looks (admission, the database's "not
stored"): a stored page is never held, and a crawler following links is served at full
speed during a flood.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from django.conf import settings

from billion_songs.web.songs.data.per_loop import PerLoop

# Visitors remembered per process with the moment their Retry-After ends: past this, those
# told longest ago are forgotten (their next refusal is answered at once, as a first one).
_REMEMBERED = 10_000


class RefusalPace:
    """The slots of one event loop's early refusals (`pace()` gives the running loop's)."""

    def __init__(self, *, per_second: float, held_at_most: int, clock: Callable[[], float] = time.monotonic):
        self.gap = 1.0 / per_second if per_second > 0 else 0.0  # 0: no pacing
        self.held_at_most = held_at_most
        self.clock = clock
        self.held = 0
        self._next_slot = 0.0
        self._told: dict[str, float] = {}  # client -> when the Retry-After it was given ends

    def wait_for(self, client: str) -> float:
        """Seconds `client`'s refusal waits for its slot, taking the slot: 0 for a first
        refusal, a visitor back after its Retry-After, or when pacing is off or full."""
        now = self.clock()
        if not self.gap or self._told.get(client, 0.0) <= now or self.held >= self.held_at_most:
            return 0.0
        slot = max(now, self._next_slot)
        self._next_slot = slot + self.gap
        return slot - now

    def told(self, client: str, retry_after: float) -> None:
        """`client` was refused now and told to come back in `retry_after` seconds."""
        self._told.pop(client, None)  # to the end: the dict's order is the order told
        self._told[client] = self.clock() + retry_after
        if len(self._told) > _REMEMBERED:
            del self._told[next(iter(self._told))]

    async def refusing(self, client: str, retry_after: float) -> None:
        """Wait for `client`'s slot (if it is back early), then count it as told."""
        wait = self.wait_for(client)
        if wait > 0:
            self.held += 1
            try:
                await asyncio.sleep(wait)
            finally:
                self.held -= 1
        self.told(client, retry_after)


_paces: PerLoop[RefusalPace] = PerLoop(lambda: RefusalPace(
    per_second=settings.SONG_EARLY_REFUSALS_PER_SECOND, held_at_most=settings.SONG_EARLY_REFUSALS_HELD))


def pace() -> RefusalPace:
    """The running event loop's pace (its slots are that loop's time)."""
    return _paces.get()
