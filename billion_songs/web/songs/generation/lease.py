"""Leases in Redis: "I am writing this", renewed while the holder is alive. A worker
takes one per song it writes, per pool batch, and for the pool's top-up round."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from billion_songs.web.songs.data import redis_clients

log = logging.getLogger(__name__)

_RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class Lease:
    """A lock that lives `ttl` seconds past its holder's last heartbeat. Only the holder
    (its random token) can renew or release it."""

    def __init__(self, name: str, *, ttl: float):
        self.name = name
        self.ttl_ms = int(ttl * 1000)
        self.token = secrets.token_hex(8)
        self.lost = threading.Event()  # set when a renewal found the lease gone

    def acquire(self, *, wait: float = 0.0) -> bool:
        """Take the lease; with `wait`, keep trying that long (a holder that died lets
        its lease expire within `ttl`)."""
        redis = redis_clients.client()
        deadline = time.monotonic() + wait
        while True:
            if redis.set(self.name, self.token, nx=True, px=self.ttl_ms):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(0.5, self.ttl_ms / 4000))

    def release(self) -> None:
        try:
            redis_clients.client().eval(_RELEASE, 1, self.name, self.token)
        except redis_clients.Error:  # it expires by itself
            log.warning("Could not release lease %s", self.name)

    @contextmanager
    def heartbeat(self) -> Iterator[None]:
        """Renew the lease every third of its life while the body runs."""
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(self.ttl_ms / 3000):
                try:
                    if not redis_clients.client().eval(_RENEW, 1, self.name, self.token, self.ttl_ms):
                        self.lost.set()
                except redis_clients.Error as error:  # Redis restarting: try again next beat
                    log.warning("Could not renew lease %s: %s", self.name, error)

        thread = threading.Thread(target=renew, name=f"lease-{self.name}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
