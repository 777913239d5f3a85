"""Ctrl-C during training: finish the current step, save a checkpoint, exit cleanly.

The first SIGINT (or SIGTERM) only sets a flag that the training loop reads between
steps, so a checkpoint is never taken of a half-applied optimizer update. A second Ctrl-C
raises KeyboardInterrupt at once, for someone who really wants out.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable


class StopRequest:
    """Context manager: `requested` becomes True on the first SIGINT/SIGTERM."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, say: Callable[[str], None] = print):
        self.requested = False
        self.aborted = False  # a second Ctrl-C: leave without saving
        self._say = say
        self._previous: dict = {}

    def __enter__(self) -> StopRequest:
        # Handlers can only be installed from the main thread; elsewhere (a worker thread)
        # a KeyboardInterrupt is still caught by the loop and saved.
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum, frame) -> None:
        if self.requested:
            self.aborted = True
            raise KeyboardInterrupt
        self.requested = True
        self._say("Stopping after this step and saving a checkpoint (Ctrl-C again to quit without saving)")
