"""Free ports and waiting for something to happen."""

from __future__ import annotations

import socket
import time


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on just now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, *, timeout: float, what: str = "a condition", processes=(), interval: float = 0.1):
    """Poll `predicate` until it answers something true, and return that; fail after
    `timeout` seconds, or at once when one of `processes` (see processes.Process) exited."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        for process in processes:
            if not process.alive():
                raise AssertionError(f"{process.name} exited (status {process.popen.returncode}) while waiting "
                                     f"for {what}:\n{process.tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
