"""Visitors first: the pool filler yields the generator to songs that someone is waiting for."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class VisitorsFirst:
    """Counts generations that a visitor waits for. The pool filler passes
    `wait_for_visitors` as the generator's `between_steps`, so a batch for the pool pauses
    between decoding steps until no visitor's song is being written."""

    def __init__(self) -> None:
        self._active = 0
        self._idle = threading.Condition()

    @contextmanager
    def visitor(self) -> Iterator[None]:
        with self._idle:
            self._active += 1
        try:
            yield
        finally:
            with self._idle:
                self._active -= 1
                if self._active == 0:
                    self._idle.notify_all()

    @property
    def active(self) -> int:
        return self._active

    def wait_for_visitors(self, timeout: float | None = None) -> bool:
        """Block while a visitor's song is being written; False if `timeout` ran out."""
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout=timeout)
