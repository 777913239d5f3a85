"""One object per running event loop. An asyncio client, semaphore or future belongs to the
loop that made it: each web process runs one loop, but tests run many, one after another,
and an object made on a closed loop is of no use on the next."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerLoop(Generic[T]):
    """`get()` returns the running loop's object, made by `make()` on its first call there;
    the object goes with its loop."""

    def __init__(self, make: Callable[[], T]):
        self._make = make
        self._made: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        found = self._made.get(loop)
        if found is None:
            found = self._made[loop] = self._make()
        return found

    def clear(self) -> None:
        """Forget every loop's object (tests that point the settings elsewhere)."""
        self._made.clear()
